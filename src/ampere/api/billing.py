"""Bills for people: an account's bills, a bill with its lines, its PDF and its e-invoice XML.

Staff see every bill; a customer sees the issued bills of the accounts of the customers they
act for (a held bill is the utility's until a clerk releases it). A bill the caller may not see
is, to them, a bill that does not exist.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from ninja.errors import HttpError

from ampere.api.auth import PortalAuth, require_account_access
from ampere.billing import operations, queries
from ampere.billing.queries import BillNotFound

router = Router(tags=["billing"], auth=PortalAuth())


class BillSummaryOut(Schema):
    id: int
    kind: str
    status: str
    period_start: date
    period_end: date  # exclusive: the reading date
    bill_date: date
    due_date: date | None
    issued_at: datetime | None
    currency: str
    consumption_kwh: Decimal
    estimated: bool
    total: Decimal
    reverses_id: int | None
    replaces_id: int | None


class BillLineOut(Schema):
    sequence: int
    kind: str
    code: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    tax_rate: Decimal
    tax_amount: Decimal


class BillOut(BillSummaryOut):
    account_id: int
    account_number: str
    language: str
    subtotal: Decimal
    tax_total: Decimal
    lines: list[BillLineOut]


def _visible_bill(request: HttpRequest, bill_id: int) -> None:
    """NotFound unless the caller may see the bill."""
    account_id, issued = queries.get_bill_owner(bill_id=bill_id)
    caller = require_account_access(request, account_id)
    if not caller.is_staff and not issued:
        raise BillNotFound(f"no bill {bill_id}", field="bill")


@router.get("/accounts/{account_id}/bills", response=list[BillSummaryOut])
def account_bills(
    request: HttpRequest, account_id: int, limit: int = 20, before_id: int | None = None
) -> list[BillSummaryOut]:
    """The account's bills, newest first; page with ``before_id`` (the last id you received)."""
    caller = require_account_access(request, account_id)
    if not 1 <= limit <= 100:
        raise HttpError(422, "limit must be between 1 and 100")
    return [
        BillSummaryOut(
            id=b.id,
            kind=b.kind,
            status=b.status,
            period_start=b.period.start,
            period_end=b.period.end or b.period.start,
            bill_date=b.bill_date,
            due_date=b.due_date,
            issued_at=b.issued_at,
            currency=b.currency,
            consumption_kwh=b.consumption_kwh,
            estimated=b.estimated,
            total=b.total,
            reverses_id=b.reverses_id,
            replaces_id=b.replaces_id,
        )
        for b in queries.list_account_bills(
            account_id=account_id,
            limit=limit,
            before_id=before_id,
            issued_only=not caller.is_staff,
        )
    ]


@router.get("/bills/{bill_id}", response=BillOut)
def bill(request: HttpRequest, bill_id: int) -> BillOut:
    """A bill with its lines."""
    _visible_bill(request, bill_id)
    b = queries.get_bill(bill_id=bill_id)
    return BillOut(
        id=b.id,
        kind=b.kind,
        status=b.status,
        period_start=b.period.start,
        period_end=b.period.end or b.period.start,
        bill_date=b.bill_date,
        due_date=b.due_date,
        issued_at=b.issued_at,
        currency=b.currency,
        consumption_kwh=b.consumption_kwh,
        estimated=b.estimated,
        total=b.total,
        reverses_id=b.reverses_id,
        replaces_id=b.replaces_id,
        account_id=b.account_id,
        account_number=b.account_number,
        language=b.language,
        subtotal=b.subtotal,
        tax_total=b.tax_total,
        lines=[
            BillLineOut(
                sequence=x.sequence,
                kind=x.kind,
                code=x.code,
                description=x.description,
                quantity=x.quantity,
                unit=x.unit,
                unit_price=x.unit_price,
                amount=x.amount,
                tax_rate=x.tax_rate,
                tax_amount=x.tax_amount,
            )
            for x in b.lines
        ],
    )


@router.get("/bills/{bill_id}/pdf", response={200: None})
def bill_pdf(request: HttpRequest, bill_id: int) -> HttpResponse:
    """The PDF of an issued bill in the customer's language (made the first time it is asked
    for, when the run did not queue it)."""
    _visible_bill(request, bill_id)
    document = operations.render_bill_document(bill_id=bill_id, now=datetime.now(UTC))
    with default_storage.open(document.path, "rb") as stored:
        content = stored.read()
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="bill-{bill_id}.pdf"'
    response["ETag"] = f'"{document.sha256}"'
    return response


@router.get("/bills/{bill_id}/einvoice", response={200: None})
def bill_einvoice(request: HttpRequest, bill_id: int) -> HttpResponse:
    """The signed e-invoice XML of an issued VND bill, once it is issued."""
    _visible_bill(request, bill_id)
    xml, symbol, number = queries.get_einvoice_xml(bill_id=bill_id)
    response = HttpResponse(xml.encode("utf-8"), content_type="application/xml; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{symbol}-{number:08d}.xml"'
    return response
