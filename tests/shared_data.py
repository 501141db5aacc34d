"""Where the shared reference data (``../shared`` beside the checkout) is.

Tests use the files by path, never copies. ``AMPERE_SHARED_DIR`` overrides; otherwise the folder
beside the checkout, then the workplace's ``/work/shared`` (a clone elsewhere, e.g. in /tmp).
"""

from __future__ import annotations

import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    candidates = [Path(p) for p in (os.environ.get("AMPERE_SHARED_DIR"),) if p] + [
        _ROOT.parent / "shared",
        Path("/work/shared"),
    ]
    for candidate in candidates:
        if (candidate / "urdb").is_dir():
            return candidate
    raise FileNotFoundError(
        "the shared reference data was not found; set AMPERE_SHARED_DIR (looked in "
        + ", ".join(str(c) for c in candidates)
        + ")"
    )


URDB = shared_dir() / "urdb"
