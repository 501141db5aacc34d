"""What the API itself keeps: partner clients, their keys, and the audit of every partner call.

These are the interface's own records (who may call, and who called), not domain data.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class ClientKind(models.TextChoices):
    BANK = "bank", "Bank or payment network"
    GATEWAY = "gateway", "Payment gateway"
    POS = "pos", "Field POS handhelds"
    HEAD_END = "head_end", "Meter head-end system"
    HANDHELD = "handheld", "Meter-reading handhelds"
    SMS = "sms", "SMS gateway"


class ApiClient(models.Model):
    """A partner of a utility that calls Ampere's API (a bank, a head-end ...)."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    utility = models.ForeignKey("accounts.Utility", on_delete=models.PROTECT)
    kind = models.CharField(max_length=10, choices=ClientKind.choices)
    scopes = ArrayField(models.CharField(max_length=32), default=list)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """A signing key of a client. The secret is stored encrypted with a key derived from
    SECRET_KEY; it is shown once, when created."""

    client = models.ForeignKey(ApiClient, on_delete=models.PROTECT, related_name="keys")
    key_id = models.CharField(max_length=40, unique=True)
    secret_encrypted = models.TextField()
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.key_id


class ApiCall(models.Model):
    """One partner call, accepted or refused. The unique signature per key refuses replays."""

    # Indexed by api_call_client_at (client first): no second index to write per call.
    client = models.ForeignKey(
        ApiClient, on_delete=models.PROTECT, null=True, blank=True, db_index=False
    )
    key_id = models.CharField(max_length=40, blank=True)
    signature = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001  NULL: not a replay key
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    body_sha256 = models.CharField(max_length=64)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    outcome = models.CharField(max_length=40)
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key_id", "signature"],
                condition=Q(signature__isnull=False),
                name="signature_used_once",
            )
        ]
        indexes = [models.Index(fields=["client", "at"], name="api_call_client_at")]

    def __str__(self) -> str:
        return f"{self.at} {self.key_id} {self.method} {self.path} {self.outcome}"


class AccessToken(models.Model):
    """A bearer token of a login (customer app, staff tool). Only its SHA-256 is stored."""

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"
