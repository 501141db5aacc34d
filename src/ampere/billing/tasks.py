"""Background work of billing: thin entry points that take ids and call one operation.

Enqueued with ``transaction.on_commit`` after a bill is issued (never inside a bill run's
transaction). Idempotent: a repeated delivery returns what the first one made.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from ampere.billing.operations import issue_einvoice as issue
from ampere.billing.operations import render_bill_document
from ampere.billing.queueing import (
    ISSUE_EINVOICE,
    RENDER_BILL_PDF,
    RENDER_PARTITION_DOCUMENTS,
    RUN_BILL_PARTITION,
)
from ampere.billing.runs import render_partition_documents as render
from ampere.billing.runs import run_partition


@shared_task(
    name=RENDER_BILL_PDF,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def render_bill_pdf(bill_id: int) -> str:
    """Render the PDF of an issued bill; returns its storage path."""
    return render_bill_document(bill_id=bill_id, now=timezone.now()).path


@shared_task(
    name=ISSUE_EINVOICE,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def issue_einvoice(bill_id: int) -> str:
    """Issue the signed e-invoice of an issued VND bill; returns "symbol/number"."""
    ref = issue(bill_id=bill_id, now=timezone.now())
    return f"{ref.symbol}/{ref.number}"


@shared_task(
    bind=True,
    name=RUN_BILL_PARTITION,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
)
def run_bill_partition(self: Any, partition_id: int) -> str:
    """Bill one partition of a bill run (idempotent: a partition done or held by another worker
    is left as it is); returns what happened."""
    worker = f"celery:{self.request.hostname or ''}"
    return run_partition(partition_id=partition_id, now=timezone.now(), worker=worker).status


@shared_task(name=RENDER_PARTITION_DOCUMENTS)
def render_partition_documents(partition_id: int) -> dict[str, int]:
    """Render the PDF (and, for VND bills, issue the e-invoice) of each issued bill of a bill
    run's partition; a bill done before is skipped. Queued after the partition commits."""
    return render(partition_id=partition_id, now=timezone.now())
