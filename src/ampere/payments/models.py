"""Data and database constraints of the payments domain (no behaviour here).

Money history is append-only: payments, reversals, transfers, refunds, collected items and the
lines of received files are never updated or deleted (the database refuses). Workflow records
(till sessions, mandates, checkouts, quarantined rows, reconciliation items) change state only
through the guarded operations.
"""

from __future__ import annotations

import pgtrigger
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateRangeField, RangeOperators
from django.db import models
from django.db.models import Q

from ampere.accounts.models import Account, LedgerEntry, Utility


def _append_only(name: str) -> pgtrigger.Protect:
    return pgtrigger.Protect(name=name, operation=pgtrigger.Update | pgtrigger.Delete)


class ChannelKind(models.TextChoices):
    BANK = "bank", "Bank or payment network (bill look-up API)"
    GATEWAY = "gateway", "Portal payments through a payment gateway"
    DIRECT_DEBIT = "direct_debit", "Autopay: direct-debit mandates"
    POS = "pos", "Field POS handhelds"
    COUNTER = "counter", "Cashiers at a counter"
    LOCKBOX = "lockbox", "Lockbox and mailed payments"


class Channel(models.Model):
    """A way money reaches a utility, with its policy as data.

    ``accepts_credit_on_account``: a payment for a bill already paid, or beyond what is owed, is
    kept as credit on the account; otherwise it is refused (no double collection).
    ``reversal_fee``: charged to the account when a payment of this channel is recalled or
    bounces. ``partner_code`` is the API client that posts through the channel.
    """

    utility = models.ForeignKey(Utility, on_delete=models.PROTECT)
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    partner_code = models.SlugField(max_length=40, blank=True)
    accepts_credit_on_account = models.BooleanField(default=False)
    reversal_fee = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    gateway = models.CharField(max_length=20, blank=True)  # adapter name for gateway channels
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner_code"],
                condition=~Q(partner_code=""),
                name="one_channel_per_partner",
            ),
            models.CheckConstraint(
                condition=Q(reversal_fee__gte=0), name="reversal_fee_not_negative"
            ),
            models.CheckConstraint(
                condition=~Q(kind="gateway") | ~Q(gateway=""), name="gateway_channel_names_adapter"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PaymentMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    CARD = "card", "Card"
    WALLET = "wallet", "E-wallet"
    CASH = "cash", "Cash"
    CHEQUE = "cheque", "Cheque"
    DIRECT_DEBIT = "direct_debit", "Direct debit"


class TillSession(models.Model):
    """A cashier's till at a counter, from opening float to the end-of-day count."""

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT)
    cashier = models.CharField(max_length=64)
    counter_code = models.CharField(max_length=32)
    currency = models.CharField(max_length=3)
    opening_float = models.DecimalField(max_digits=18, decimal_places=2)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    expected_cash = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    counted_cash = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    closing_note = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cashier"],
                condition=Q(closed_at__isnull=True),
                name="one_open_till_per_cashier",
            ),
            models.CheckConstraint(
                condition=Q(opening_float__gte=0), name="till_float_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(
                    closed_at__isnull=True, counted_cash__isnull=True, expected_cash__isnull=True
                )
                | Q(closed_at__isnull=False, counted_cash__gte=0, expected_cash__isnull=False),
                name="till_closed_with_its_count",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cashier}@{self.counter_code} {self.opened_at:%Y-%m-%d}"


class Payment(models.Model):
    """Money received for an account through a channel, posted to the ledger once.

    ``external_reference`` is the channel's transaction id: unique per channel, it makes a
    payment sent again (at once, concurrently or days later) return this one.
    """

    # No separate indexes for channel and account: the unique (channel, reference) and the
    # (account, posted_at) indexes lead with them (one index fewer to write per payment each).
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, db_index=False)
    external_reference = models.CharField(max_length=64)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="payments", db_index=False
    )
    account_number_given = models.CharField(max_length=40)  # as the payer wrote it (maybe legacy)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=16, choices=PaymentMethod.choices)
    received_at = models.DateTimeField()
    value_date = models.DateField()  # the local date of received_at
    posted_at = models.DateTimeField()
    bill_reference = models.CharField(max_length=64, blank=True)
    collected_by = models.CharField(max_length=64, blank=True)
    device = models.CharField(max_length=64, blank=True)
    till_session = models.ForeignKey(
        TillSession,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        db_index=False,
    )
    ledger_entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="+")
    balance_after = models.DecimalField(max_digits=18, decimal_places=2)
    created_by = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_reference"], name="payment_once_per_channel_reference"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=~Q(external_reference=""), name="payment_has_reference"
            ),
        ]
        indexes = [
            # Day first: a transaction id's look-up (channel, reference) can then only read by
            # the unique index, whatever the table's size when a connection planned it (with
            # the channel first, a plan made on a small table read every payment of the
            # channel). A day's payments of a channel (reconciliation) read by either.
            models.Index(fields=["value_date", "channel"], name="payment_day_channel"),
            models.Index(fields=["account", "posted_at"], name="payment_account_posted"),
            models.Index(
                fields=["till_session"],
                condition=Q(till_session__isnull=False),
                name="payment_till_session",
            ),
        ]
        triggers = [_append_only("payment_append_only")]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.external_reference} {self.amount} {self.currency}"


class ReversalKind(models.TextChoices):
    RECALL = "recall", "Recalled by the bank"
    BOUNCE = "bounce", "Direct debit returned unpaid"
    CHARGEBACK = "chargeback", "Card chargeback"
    ERROR = "error", "Posted in error"


class PaymentReversal(models.Model):
    """A payment undone (at most once): a reversal entry and, where policy says, a fee."""

    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="reversal")
    kind = models.CharField(max_length=12, choices=ReversalKind.choices)
    reason = models.CharField(max_length=200)
    external_reference = models.CharField(max_length=64, blank=True)
    reversal_entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="+")
    fee_entry = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reversed_at = models.DateTimeField()
    created_by = models.CharField(max_length=64)

    class Meta:
        triggers = [_append_only("reversal_append_only")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.payment_id}"


class PaymentTransfer(models.Model):
    """A misapplied payment moved to the account it was meant for (at most once)."""

    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="transfer")
    to_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    out_entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="+")
    in_entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200)
    transferred_at = models.DateTimeField()
    created_by = models.CharField(max_length=64)

    class Meta:
        triggers = [_append_only("transfer_append_only")]

    def __str__(self) -> str:
        return f"{self.payment_id} -> {self.to_account_id}"


class RefundMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    CHEQUE = "cheque", "Cheque"
    CASH = "cash", "Cash"


class Refund(models.Model):
    """Credit on an account paid back to the customer. ``reference`` is the caller's key."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="refunds")
    reference = models.CharField(max_length=64, unique=True)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=16, choices=RefundMethod.choices)
    payee = models.CharField(max_length=120)  # bank account or name the money goes to
    reason = models.CharField(max_length=200)
    ledger_entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="+")
    refunded_at = models.DateTimeField()
    created_by = models.CharField(max_length=64)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_positive")]
        triggers = [_append_only("refund_append_only")]

    def __str__(self) -> str:
        return f"refund {self.reference} {self.amount} {self.currency}"


class Mandate(models.Model):
    """A customer's authority to collect what is due from a bank account (autopay)."""

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="mandates")
    reference = models.CharField(max_length=64)
    payer_name = models.CharField(max_length=120)
    payer_bank_account = models.CharField(max_length=40)  # masked: only the last digits
    max_amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    valid_period = DateRangeField()
    signed_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "reference"], name="mandate_reference_unique"
            ),
            ExclusionConstraint(
                name="one_mandate_per_account_at_a_time",
                expressions=[
                    ("account", RangeOperators.EQUAL),
                    ("valid_period", RangeOperators.OVERLAPS),
                ],
            ),
            models.CheckConstraint(
                condition=Q(max_amount__isnull=True) | Q(max_amount__gt=0),
                name="mandate_max_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class CollectionStatus(models.TextChoices):
    COLLECTED = "collected", "Collected"
    SKIPPED = "skipped", "Skipped (see reason)"


class DirectDebitCollection(models.Model):
    """One mandate's collection on a due date: once per mandate and date."""

    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="collections")
    due_on = models.DateField()
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=CollectionStatus.choices)
    reason = models.CharField(max_length=200, blank=True)
    payment = models.OneToOneField(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="collection"
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mandate", "due_on"], name="collection_once_per_day"),
            models.CheckConstraint(
                condition=Q(status="collected", payment__isnull=False)
                | Q(status="skipped", payment__isnull=True),
                name="collection_status_matches_payment",
            ),
        ]
        triggers = [_append_only("collection_append_only")]

    def __str__(self) -> str:
        return f"{self.mandate_id} {self.due_on} {self.status}"


class CollectedItem(models.Model):
    """An open item a collection took in: a debit is never collected by direct debit twice (a
    bounced one waits for a person)."""

    collection = models.ForeignKey(
        DirectDebitCollection, on_delete=models.PROTECT, related_name="items"
    )
    debit_entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        triggers = [_append_only("collected_item_append_only")]

    def __str__(self) -> str:
        return f"{self.collection_id}: {self.debit_entry_id} {self.amount}"


class FileKind(models.TextChoices):
    LOCKBOX = "lockbox", "Lockbox or mail payments"
    SETTLEMENT = "settlement", "Bank settlement"


class PaymentFile(models.Model):
    """A file received from a channel; the same file twice is recognised by its digest."""

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT)
    kind = models.CharField(max_length=12, choices=FileKind.choices)
    name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    business_date = models.DateField(null=True, blank=True)  # the day a settlement covers
    row_count = models.PositiveIntegerField()
    received_at = models.DateTimeField()
    created_by = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "kind", "sha256"], name="payment_file_received_once"
            ),
            models.CheckConstraint(
                condition=~Q(kind="settlement") | Q(business_date__isnull=False),
                name="settlement_file_has_date",
            ),
        ]
        triggers = [_append_only("payment_file_append_only")]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


class RowStatus(models.TextChoices):
    POSTED = "posted", "Posted"
    DUPLICATE = "duplicate", "Posted before (original returned)"
    QUARANTINED = "quarantined", "Waiting for a person"
    RELEASED = "released", "Corrected and posted"
    REJECTED = "rejected", "Rejected by a person"


class LockboxRow(models.Model):
    """One row of a lockbox file with its result; a bad row waits in quarantine with the raw
    text and the reason until a clerk corrects and posts it or rejects it."""

    file = models.ForeignKey(PaymentFile, on_delete=models.PROTECT, related_name="lockbox_rows")
    line_number = models.PositiveIntegerField()
    raw = models.TextField()
    reference = models.CharField(max_length=64, blank=True)
    account_number = models.CharField(max_length=40, blank=True)
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    paid_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=RowStatus.choices)
    field = models.CharField(max_length=40, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["file", "line_number"], name="lockbox_row_once"),
            models.CheckConstraint(
                condition=Q(status__in=["posted", "duplicate", "released"], payment__isnull=False)
                | Q(status__in=["quarantined", "rejected"], payment__isnull=True),
                name="lockbox_row_status_matches_payment",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status"], condition=Q(status="quarantined"), name="lockbox_quarantine"
            )
        ]

    def __str__(self) -> str:
        return f"{self.file_id}:{self.line_number} {self.status}"


class SettlementLine(models.Model):
    """One line of a bank's daily settlement file, as received (unreadable lines too)."""

    file = models.ForeignKey(PaymentFile, on_delete=models.PROTECT, related_name="settlement_lines")
    line_number = models.PositiveIntegerField()
    raw = models.TextField()
    external_reference = models.CharField(max_length=64, blank=True)
    account_number = models.CharField(max_length=40, blank=True)
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    problem = models.CharField(max_length=300, blank=True)  # why the line could not be read

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["file", "line_number"], name="settlement_line_once")
        ]
        indexes = [models.Index(fields=["external_reference"], name="settlement_line_reference")]
        triggers = [_append_only("settlement_line_append_only")]

    def __str__(self) -> str:
        return f"{self.file_id}:{self.line_number}"


class ReconciliationKind(models.TextChoices):
    MATCHED = "matched", "Matched"
    MISMATCHED = "mismatched", "Posted, but differs from the bank"
    MISSING = "missing", "Posted, not in the bank's file"
    EXTRA = "extra", "In the bank's file, never posted"
    UNREADABLE = "unreadable", "Line could not be read"


class ReconciliationItem(models.Model):
    """What a settlement file's reconciliation found, for a clerk; resolved, never deleted."""

    file = models.ForeignKey(PaymentFile, on_delete=models.PROTECT, related_name="reconciliation")
    kind = models.CharField(max_length=12, choices=ReconciliationKind.choices)
    line = models.ForeignKey(
        SettlementLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    detail = models.CharField(max_length=300, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=64, blank=True)
    resolution = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["file", "line"], condition=Q(line__isnull=False), name="recon_line_once"
            ),
            models.UniqueConstraint(
                fields=["file", "payment"],
                condition=Q(line__isnull=True),
                name="recon_missing_payment_once",
            ),
            models.CheckConstraint(
                condition=Q(line__isnull=False) | Q(payment__isnull=False),
                name="recon_item_names_something",
            ),
        ]
        indexes = [models.Index(fields=["payment"], name="recon_payment")]

    def __str__(self) -> str:
        return f"{self.file_id} {self.kind}"


class CheckoutStatus(models.TextChoices):
    OPEN = "open", "Waiting for the customer"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed or declined"


class Checkout(models.Model):
    """A portal payment handed to a payment gateway; the gateway's notification posts it."""

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=40, unique=True)
    gateway_session = models.CharField(max_length=400)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)
    return_url = models.CharField(max_length=400, blank=True)
    status = models.CharField(max_length=8, choices=CheckoutStatus.choices, default="open")
    failure_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    payment = models.OneToOneField(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="checkout"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="checkout_positive"),
            models.CheckConstraint(
                condition=Q(status="paid", payment__isnull=False)
                | ~Q(status="paid") & Q(payment__isnull=True),
                name="checkout_paid_has_payment",
            ),
        ]

    def __str__(self) -> str:
        return self.reference
