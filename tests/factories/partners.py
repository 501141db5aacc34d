"""A signed-request test client for partner endpoints."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from django.test import Client

from ampere.api.auth import IssuedKey, create_client
from ampere.api.signing import signed_headers


class PartnerClient:
    """Signs each request like a bank's or a head-end's client library would."""

    def __init__(self, *, utility_id: int, scopes: list[str], code: str = "test-bank") -> None:
        self.client_id, self.key = create_client(
            code=code,
            name=code.replace("-", " ").title(),
            utility_id=utility_id,
            kind="bank",
            scopes=scopes,
            now=datetime.now(UTC),
        )
        self.http = Client()

    @property
    def issued(self) -> IssuedKey:
        return self.key

    def request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        timestamp: int | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        raw = (
            body if body is not None else (b"" if payload is None else json.dumps(payload).encode())
        )
        signed = signed_headers(
            key_id=self.key.key_id,
            secret=self.key.secret,
            method=method,
            path=path,
            body=raw,
            timestamp=int(time.time()) if timestamp is None else timestamp,
        )
        signed.update(headers or {})
        return self.http.generic(
            method, path, data=raw, content_type="application/json", headers=signed
        )
