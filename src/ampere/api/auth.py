"""Authentication of API callers.

Partners (banks, gateways, POS vendors, head-ends) sign each request (see ``signing``); people —
staff and customers — use a session or a bearer token (``PortalAuth``), and
``require_account_access`` gives a customer only the accounts of the customers they act for.
Every partner call, accepted or refused, is written to ``ApiCall``; the unique (key, signature)
pair there refuses a replayed request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest, HttpResponse
from ninja.errors import AuthenticationError, AuthorizationError, HttpError
from ninja.security import APIKeyHeader
from ninja.security.base import AuthBase
from ninja.utils import check_csrf

from ampere.accounts.queries import get_account_customer_id, get_customer_ids_for_user
from ampere.api import problems, signing
from ampere.api.models import AccessToken, ApiClient, ApiKey
from ampere.core.errors import NotFound
from ampere.database import constraint_name, prepared_cursor


@dataclass(frozen=True)
class Partner:
    """The authenticated caller, as ``request.auth``."""

    client_id: int
    code: str
    name: str
    utility_id: int
    utility_code: str
    scopes: frozenset[str]
    key_id: str


def _fernet() -> Fernet:
    digest = hashlib.sha256(f"ampere-api-keys:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    secret: str  # shown once


def issue_key(*, client_id: int, now: datetime) -> IssuedKey:
    """A new signing key for a client; the secret is returned once and kept encrypted."""
    key_id = f"ak_{secrets.token_hex(10)}"
    secret = secrets.token_urlsafe(32)
    ApiKey.objects.create(
        client_id=client_id,
        key_id=key_id,
        secret_encrypted=_fernet().encrypt(secret.encode()).decode(),
        created_at=now,
    )
    return IssuedKey(key_id, secret)


@dataclass(frozen=True)
class _CachedKey:
    partner: Partner
    secret: str
    active: bool
    loaded: float


_KEY_CACHE: dict[str, _CachedKey] = {}
_KEY_CACHE_SECONDS = 30.0  # a revoked key stops working within this time


def _load_key(key_id: str) -> _CachedKey | None:
    cached = _KEY_CACHE.get(key_id)
    if cached is not None and time.monotonic() - cached.loaded < _KEY_CACHE_SECONDS:
        return cached
    row = (
        ApiKey.objects.filter(key_id=key_id)
        .values(
            "secret_encrypted",
            "revoked_at",
            "client_id",
            "client__code",
            "client__name",
            "client__utility_id",
            "client__utility__code",
            "client__scopes",
            "client__is_active",
        )
        .first()
    )
    if row is None:
        _KEY_CACHE.pop(key_id, None)
        return None
    try:
        secret = _fernet().decrypt(row["secret_encrypted"].encode()).decode()
    except InvalidToken:
        return None  # encrypted under another SECRET_KEY: the key must be reissued
    partner = Partner(
        client_id=row["client_id"],
        code=row["client__code"],
        name=row["client__name"],
        utility_id=row["client__utility_id"],
        utility_code=row["client__utility__code"],
        scopes=frozenset(row["client__scopes"]),
        key_id=key_id,
    )
    entry = _CachedKey(
        partner, secret, row["revoked_at"] is None and row["client__is_active"], time.monotonic()
    )
    _KEY_CACHE[key_id] = entry
    return entry


_RECORD_SQL = """
    INSERT INTO api_apicall (client_id, key_id, signature, method, path, body_sha256,
        remote_addr, outcome, at)
    VALUES (%s, %s, %s, %s, %s, %s, %s::inet, %s, %s)
"""


def _audit_params(
    request: HttpRequest,
    *,
    client_id: int | None,
    key_id: str,
    signature: str | None,
    outcome: str,
    body_sha: str,
) -> list[Any]:
    return [
        client_id,
        key_id[:40],
        signature,
        request.method or "",
        request.get_full_path()[:300],
        body_sha,
        request.META.get("REMOTE_ADDR") or None,
        outcome,
        datetime.now(UTC),
    ]


def _record(request: HttpRequest, **fields: Any) -> bool:
    """Write the audit row (the fields of ``_audit_params``); False when the signature was used
    before (a replay)."""
    return _insert_audit(_audit_params(request, **fields))


def _insert_audit(params: list[Any]) -> bool:
    """One statement on a prepared cursor: outside a transaction it commits on its own; inside
    one (tests, callers' atomic blocks) a savepoint keeps a refused replay from breaking it."""
    try:
        with (
            transaction.atomic() if connection.in_atomic_block else nullcontext(),
            prepared_cursor() as cursor,
        ):
            cursor.execute(_RECORD_SQL, params)
    except IntegrityError:
        return False
    return True


def _meta_name(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


_TIMESTAMP_META = _meta_name(signing.TIMESTAMP_HEADER)
_SIGNATURE_META = _meta_name(signing.SIGNATURE_HEADER)


class PartnerSignature(APIKeyHeader):
    """Signed partner requests, for a given scope ("payments", "readings", ...); ``None``
    accepts any active partner."""

    param_name = signing.KEY_HEADER
    openapi_description = (
        "Partner key id. Each request also carries X-Ampere-Timestamp (Unix seconds, within "
        "5 minutes of the server's clock) and X-Ampere-Signature: hex HMAC-SHA256 with the "
        "key's secret over METHOD, path with query, timestamp and the hex SHA-256 of the body, "
        "joined by newlines. A signature is accepted once."
    )

    def __init__(
        self,
        scope: str | None,
        *,
        max_body_bytes: int | None = None,
        audit_with_operation: bool = False,
    ) -> None:
        """``audit_with_operation``: the accepted call's audit row is left to the endpoint's
        operation, to be written in the operation's own transaction (``take_audit``): one commit
        instead of two, and a replayed signature fails with the operation, which then posts
        nothing (``refuse_replay``). Whatever the endpoint does, ``PartnerAuditMiddleware``
        writes a row it left unwritten."""
        self.scope = scope
        self.max_body_bytes = max_body_bytes
        self.audit_with_operation = audit_with_operation
        super().__init__()

    def authenticate(self, request: HttpRequest, key: str | None) -> Partner:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if self.max_body_bytes is not None and (
            not declared.isdigit() or int(declared) > self.max_body_bytes
        ):
            # Refused before the body is read; audited like every partner call.
            _record(
                request,
                client_id=None,
                key_id=key or "",
                signature=None,
                outcome="body-too-large",
                body_sha="",
            )
            raise HttpError(
                413,
                f"the request body is {declared} bytes; at most {self.max_body_bytes} "
                "are accepted here",
            )
        body = request.body
        body_sha = signing.body_digest(body)
        key_id = key or ""

        def refuse(outcome: str, message: str, client_id: int | None = None) -> AuthenticationError:
            _record(
                request,
                client_id=client_id,
                key_id=key_id,
                signature=None,
                outcome=outcome,
                body_sha=body_sha,
            )
            return AuthenticationError(message=message)

        if not key_id:
            raise refuse("missing-key", f"the {signing.KEY_HEADER} header is missing")
        # From META: request.headers would build a mapping of every header first.
        stamp = request.META.get(_TIMESTAMP_META, "")
        signature = request.META.get(_SIGNATURE_META, "").lower()
        if not signature:
            raise refuse("missing-signature", f"the {signing.SIGNATURE_HEADER} header is missing")
        if not stamp.isdigit():
            raise refuse("bad-timestamp", f"{signing.TIMESTAMP_HEADER} must be Unix seconds")
        if abs(time.time() - int(stamp)) > signing.MAX_SKEW_SECONDS:
            raise refuse("stale-timestamp", "the request timestamp is stale or in the future")
        found = _load_key(key_id)
        if found is None:
            raise refuse("unknown-key", "unknown key")
        client_id = found.partner.client_id
        if not found.active:
            raise refuse("revoked-key", "the key or its client is not active", client_id)
        method = request.method or ""
        expected = signing.sign(found.secret, method, request.get_full_path(), stamp, body)
        if not hmac.compare_digest(expected, signature):
            raise refuse("bad-signature", "the signature does not match the request", client_id)
        if self.scope is not None and self.scope not in found.partner.scopes:
            _record(
                request,
                client_id=client_id,
                key_id=key_id,
                signature=None,
                outcome="forbidden-scope",
                body_sha=body_sha,
            )
            raise AuthorizationError(message=f"the client may not use {self.scope!r}")
        accepted = _audit_params(
            request,
            client_id=client_id,
            key_id=key_id,
            signature=signature,
            outcome="accepted",
            body_sha=body_sha,
        )
        if self.audit_with_operation:
            request.__dict__[_PENDING_AUDIT] = accepted
        elif not _insert_audit(accepted):
            raise refuse("replayed", REPLAYED, client_id)
        return found.partner


REPLAYED = "this signed request was received before"
_PENDING_AUDIT = "_ampere_pending_audit"
SIGNATURE_USED_ONCE = "signature_used_once"  # the unique index of ApiCall


def take_audit(request: HttpRequest) -> tuple[str, list[Any]] | None:
    """The accepted call's audit statement (SQL, parameters) that ``PartnerSignature(...,
    audit_with_operation=True)`` left to the endpoint, for its operation to run in its own
    transaction; None once taken. The operation must run it whatever its outcome."""
    params = request.__dict__.pop(_PENDING_AUDIT, None)
    return None if params is None else (_RECORD_SQL, params)


def refuse_replay(request: HttpRequest, error: IntegrityError) -> AuthenticationError:
    """For an operation that failed on the audit row's unique signature (a replayed request:
    the operation wrote nothing): the refusal, audited. Re-raises any other error."""
    if constraint_name(error) != SIGNATURE_USED_ONCE:
        raise error
    _record_replay(request)
    return AuthenticationError(message=REPLAYED)


def _record_replay(request: HttpRequest) -> None:
    partner = partner_of(request)
    _record(
        request,
        client_id=partner.client_id,
        key_id=partner.key_id,
        signature=None,
        outcome="replayed",
        body_sha=signing.body_digest(request.body),
    )


class PartnerAuditMiddleware:
    """Writes an accepted call's audit row that the endpoint left unwritten (the request was
    refused before its operation ran, or failed); a replayed signature found then is refused
    like any other."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        pending = take_audit(request)
        if pending is not None and not _insert_audit(pending[1]):
            _record_replay(request)
            return problems.problem(
                request,
                status=401,
                title="Unauthenticated",
                detail=REPLAYED,
                code="unauthenticated",
            )
        return response


def create_client(
    *, code: str, name: str, utility_id: int, kind: str, scopes: list[str], now: datetime
) -> tuple[int, IssuedKey]:
    """Register a partner and issue its first key (staff tooling and tests)."""
    with transaction.atomic():
        client = ApiClient.objects.create(
            code=code, name=name, utility_id=utility_id, kind=kind, scopes=scopes, created_at=now
        )
        key = issue_key(client_id=client.id, now=now)
    return client.id, key


def clear_key_cache() -> None:
    _KEY_CACHE.clear()


def partner_of(request: Any) -> Partner:
    auth = getattr(request, "auth", None)
    if not isinstance(auth, Partner):
        raise AuthenticationError(message="a signed partner request is required")
    return auth


# --- people: staff and customers ---------------------------------------------------------

BEARER = "Bearer "
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Caller:
    """A person calling the API: staff (sees every account) or a customer's login."""

    user_id: int
    username: str
    is_staff: bool
    customer_ids: frozenset[int]


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_access_token(*, user_id: int, name: str, days: int, now: datetime) -> str:
    """A new bearer token for a login, valid ``days`` days; returned once, stored hashed."""
    token = f"amp_{secrets.token_urlsafe(32)}"
    AccessToken.objects.create(
        user_id=user_id,
        name=name,
        token_sha256=_token_digest(token),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    return token


def _caller(user: Any) -> Caller:
    return Caller(
        user_id=user.id,
        username=user.get_username(),
        is_staff=bool(user.is_staff and user.is_active),
        customer_ids=frozenset() if user.is_staff else get_customer_ids_for_user(user_id=user.id),
    )


class PortalAuth(AuthBase):
    """Staff or customers: ``Authorization: Bearer <token>``, or the back-office/portal session
    (with Django's CSRF check on unsafe methods)."""

    openapi_type = "http"
    openapi_scheme = "bearer"

    def __call__(self, request: HttpRequest) -> Caller | None:
        header = request.headers.get("Authorization", "")
        if header.startswith(BEARER):
            row = (
                AccessToken.objects.filter(
                    token_sha256=_token_digest(header[len(BEARER) :].strip())
                )
                .select_related("user")
                .first()
            )
            now = datetime.now(UTC)
            if row is None or row.revoked_at is not None or row.expires_at <= now:
                raise AuthenticationError(message="the bearer token is unknown, expired or revoked")
            if not row.user.is_active:
                raise AuthenticationError(message="the login is disabled")
            return _caller(row.user)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if (request.method or "GET") not in SAFE_METHODS and check_csrf(request) is not None:
            raise AuthenticationError(status_code=403, message="CSRF check failed")
        return _caller(user)


def caller_of(request: Any) -> Caller:
    auth = getattr(request, "auth", None)
    if not isinstance(auth, Caller):
        raise AuthenticationError(message="log in or send a bearer token")
    return auth


def require_account_access(request: Any, account_id: int) -> Caller:
    """The caller, if they may see the account; NotFound otherwise (an account a customer may
    not see is, to them, an account that does not exist)."""
    caller = caller_of(request)
    if caller.is_staff:
        return caller
    customer_id = get_account_customer_id(account_id=account_id)
    if customer_id is None or customer_id not in caller.customer_ids:
        raise NotFound(f"no account with id {account_id}", field="account")
    return caller


class StaffAuth(PortalAuth):
    """Staff only (back-office session or a staff login's bearer token)."""

    def __call__(self, request: HttpRequest) -> Caller | None:
        caller = super().__call__(request)
        if caller is not None and not caller.is_staff:
            raise AuthorizationError(message="staff only")
        return caller
