"""Queueing billing's background work without importing its entry points.

``tasks`` (the Celery entry points) calls the operations and runs; the operations and runs queue
tasks by name through here, so no module below ``tasks`` imports it. The tasks are registered
with the Celery app when the billing app is ready (``apps.BillingConfig.ready``).
"""

from __future__ import annotations

from celery import current_app
from django.db import transaction

RENDER_BILL_PDF = "billing.render_bill_pdf"
ISSUE_EINVOICE = "billing.issue_einvoice"
RUN_BILL_PARTITION = "billing.run_bill_partition"
RENDER_PARTITION_DOCUMENTS = "billing.render_partition_documents"


def enqueue_after_commit(task_name: str, *args: object, robust: bool = True) -> None:
    """Queue the task named ``task_name`` with ``args`` once the current transaction commits
    (at once outside one). ``robust``: a failure to queue is logged and the commit stands."""
    transaction.on_commit(lambda: current_app.tasks[task_name].delay(*args), robust=robust)
