"""Batches of register reads from head-ends and handheld back-ends (signed partner requests)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from ampere.api.auth import PartnerSignature, partner_of
from ampere.metering.operations import import_read_batch
from ampere.metering.parsing import RawRow
from ampere.metering.queries import get_read_batch

router = Router(tags=["readings"])


class BatchIn(Schema):
    batch_id: str = Field(min_length=1, max_length=100, description="your idempotency key")
    source: str = Field("remote", description="handheld, remote, manual or customer")
    readings: list[dict[str, Any]] = Field(
        description="rows of meter, register, read_at (ISO 8601 with offset), value[, source]"
    )


class Problem(Schema):
    code: str
    message: str
    field: str | None


class RowOut(Schema):
    row: int
    status: str = Field(description="accepted, duplicate or quarantined")
    read_id: int | None
    flags: list[str]
    problems: list[Problem]


class BatchOut(Schema):
    batch_id: str
    received_at: str
    rows: int
    accepted: int
    duplicates: int
    quarantined: int
    results: list[RowOut]


def _out(result: dict[str, Any]) -> BatchOut:
    return BatchOut(
        batch_id=result["batch_id"],
        received_at=result["received_at"],
        rows=result["rows"],
        accepted=result["accepted"],
        duplicates=result["duplicates"],
        quarantined=result["quarantined"],
        results=result["results"],
    )


@router.post("/batches", response=BatchOut, auth=PartnerSignature(scope="readings"))
def post_batch(request: HttpRequest, payload: BatchIn) -> BatchOut:
    """Store a batch of reads. Sending the same batch_id again changes nothing and answers the
    first result; the same batch_id with other content is refused (409). Rows that fail
    validation are quarantined for a clerk, with the reason in the row's result."""
    partner = partner_of(request)
    result = import_read_batch(
        utility_code=partner.utility_code,
        rows=[RawRow(n, row) for n, row in enumerate(payload.readings, start=1)],
        external_id=payload.batch_id,
        channel="api",
        submitted_by=f"partner:{partner.code}",
        default_source=payload.source,
        now=datetime.now(UTC),
    )
    return _out(result.as_dict())


@router.get("/batches/{batch_id}", response=BatchOut, auth=PartnerSignature(scope="readings"))
def get_batch(request: HttpRequest, batch_id: str) -> BatchOut:
    """The result of a batch this partner sent."""
    partner = partner_of(request)
    result = get_read_batch(
        utility_id=partner.utility_id,
        submitted_by=f"partner:{partner.code}",
        external_id=batch_id,
    )
    return _out(result.as_dict())
