"""The partner request signature: HMAC-SHA256 over method, path, timestamp and body.

A partner sends three headers::

    X-Ampere-Key:        the key id
    X-Ampere-Timestamp:  Unix seconds when the request was made
    X-Ampere-Signature:  hex HMAC-SHA256(secret, METHOD \\n PATH?QUERY \\n TIMESTAMP \\n
                                         hex SHA-256 of the body)

This module is pure so partners (and tests, and benchmarks) sign the same way Ampere checks.
"""

from __future__ import annotations

import hashlib
import hmac

KEY_HEADER = "X-Ampere-Key"
TIMESTAMP_HEADER = "X-Ampere-Timestamp"
SIGNATURE_HEADER = "X-Ampere-Signature"
MAX_SKEW_SECONDS = 300


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical(method: str, path: str, timestamp: str, body: bytes) -> bytes:
    return f"{method.upper()}\n{path}\n{timestamp}\n{body_digest(body)}".encode()


def sign(secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    return hmac.new(
        secret.encode(), canonical(method, path, timestamp, body), hashlib.sha256
    ).hexdigest()


def signed_headers(
    *, key_id: str, secret: str, method: str, path: str, body: bytes, timestamp: int
) -> dict[str, str]:
    """Headers for a signed request (what a partner's client library does)."""
    stamp = str(timestamp)
    return {
        KEY_HEADER: key_id,
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(secret, method, path, stamp, body),
    }
