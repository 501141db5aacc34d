import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _keys_outside_the_checkout(settings, tmp_path_factory):
    """Demo utilities write signing keys; tests keep them in a temporary folder."""
    settings.EINVOICE_CREDENTIALS_DIR = tmp_path_factory.mktemp("einvoice")
