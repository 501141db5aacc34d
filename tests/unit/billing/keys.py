"""A throw-away seller key and self-signed certificate for signing tests (made per session)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from ampere.billing.einvoice.signing import SigningCredentials, self_signed_credentials


@cache
def credentials(common_name: str = "EVNHCMC e-invoice test") -> SigningCredentials:
    return self_signed_credentials(
        common_name=common_name,
        organisation="Ampere tests",
        country="VN",
        valid_from=datetime(2025, 1, 1, tzinfo=UTC),
    )
