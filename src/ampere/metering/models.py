"""Data and database constraints of the metering domain (no behaviour here)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import (
    ArrayField,
    DateRangeField,
    DateTimeRangeField,
    RangeOperators,
)
from django.db import models
from django.db.models import F, Q


class EstimationRule(models.TextChoices):
    AVERAGE_PREVIOUS_PERIODS = "average_periods", "Average daily use of the previous periods × days"
    SAME_PERIOD_LAST_YEAR = "last_year", "Same period last year"


class MeteringPolicy(models.Model):
    """How a utility validates and estimates reads. Without a row the defaults below apply."""

    utility = models.OneToOneField(
        "accounts.Utility", on_delete=models.PROTECT, related_name="metering_policy"
    )
    # A period whose consumption is >= high_ratio × the previous period's waits for a re-check.
    high_ratio = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("1.30"))
    # ... and <= low_ratio × the previous period's (0 turns the low check off).
    low_ratio = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0.50"))
    # A lower read is a register rollover when the rolled-over consumption is at most this
    # fraction of the register's range (10^digits); otherwise it is negative consumption.
    rollover_max_fraction = models.DecimalField(
        max_digits=4, decimal_places=3, default=Decimal("0.500")
    )
    flag_zero_on_live_agreement = models.BooleanField(default=True)
    estimation_rule = models.CharField(
        max_length=16,
        choices=EstimationRule.choices,
        default=EstimationRule.AVERAGE_PREVIOUS_PERIODS,
    )
    estimation_periods = models.PositiveSmallIntegerField(default=3)

    class Meta:
        verbose_name_plural = "metering policies"
        constraints = [
            models.CheckConstraint(condition=Q(high_ratio__gt=1), name="policy_high_above_one"),
            models.CheckConstraint(
                condition=Q(low_ratio__gte=0, low_ratio__lt=1), name="policy_low_below_one"
            ),
            models.CheckConstraint(
                condition=Q(rollover_max_fraction__gt=0, rollover_max_fraction__lte=1),
                name="policy_rollover_fraction",
            ),
            models.CheckConstraint(
                condition=Q(estimation_periods__gte=1, estimation_periods__lte=12),
                name="policy_estimation_periods",
            ),
        ]

    def __str__(self) -> str:
        return f"metering policy of {self.utility_id}"


class MeterKind(models.TextChoices):
    ELECTROMECHANICAL = "electromechanical", "Electromechanical"
    ELECTRONIC = "electronic", "Electronic"
    SMART = "smart", "Smart (AMI)"


class Meter(models.Model):
    """A physical meter (công tơ), identified by its serial within the utility."""

    utility = models.ForeignKey("accounts.Utility", on_delete=models.PROTECT)
    serial = models.CharField(max_length=32)
    kind = models.CharField(max_length=17, choices=MeterKind.choices)
    phases = models.PositiveSmallIntegerField()
    # CT ratio (hệ số nhân): consumption = register difference × multiplier.
    multiplier = models.DecimalField(max_digits=10, decimal_places=3, default=Decimal(1))
    # The register shows digits whole units, then rolls over to zero at 10^digits.
    register_digits = models.PositiveSmallIntegerField()
    # Length of the meter's load-profile intervals; null when it keeps none.
    interval_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    manufacturer = models.CharField(max_length=60, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["utility", "serial"], name="meter_serial_unique"),
            models.CheckConstraint(condition=Q(phases__in=[1, 3]), name="meter_phases"),
            models.CheckConstraint(condition=Q(multiplier__gt=0), name="meter_multiplier_positive"),
            models.CheckConstraint(
                condition=Q(register_digits__gte=4, register_digits__lte=10),
                name="meter_register_digits",
            ),
            models.CheckConstraint(
                condition=Q(interval_minutes__isnull=True)
                | Q(interval_minutes__in=[5, 15, 30, 60]),
                name="meter_interval_minutes",
            ),
        ]

    def __str__(self) -> str:
        return self.serial


class RegisterCode(models.TextChoices):
    TOTAL_KWH = "kwh", "Total active energy (kWh)"
    PEAK_KWH = "kwh_peak", "Peak-hours energy (kWh, bậc cao điểm)"
    NORMAL_KWH = "kwh_normal", "Normal-hours energy (kWh, bình thường)"
    OFF_PEAK_KWH = "kwh_off_peak", "Off-peak energy (kWh, thấp điểm)"
    MAX_KW = "kw_max", "Maximum demand (kW)"
    KVARH = "kvarh", "Reactive energy (kVArh)"


class Register(models.Model):
    """One register of a meter: cumulative energy (rolls over) or maximum demand."""

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="registers")
    code = models.CharField(max_length=12, choices=RegisterCode.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["meter", "code"], name="register_once_per_meter"),
        ]

    def __str__(self) -> str:
        return f"{self.meter_id}/{self.code}"


class Installation(models.Model):
    """A meter on a service point for the half-open period ``[installed_at, removed_at)``."""

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="installations")
    service_point = models.ForeignKey(
        "accounts.ServicePoint", on_delete=models.PROTECT, related_name="meter_installations"
    )
    installed_period = DateTimeRangeField()

    class Meta:
        constraints = [
            ExclusionConstraint(
                name="one_live_installation_per_service_point",
                expressions=[
                    ("service_point", RangeOperators.EQUAL),
                    ("installed_period", RangeOperators.OVERLAPS),
                ],
            ),
            ExclusionConstraint(
                name="meter_installed_once_at_a_time",
                expressions=[
                    ("meter", RangeOperators.EQUAL),
                    ("installed_period", RangeOperators.OVERLAPS),
                ],
            ),
            models.CheckConstraint(
                condition=Q(installed_period__isempty=False), name="installation_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.meter_id}@{self.service_point_id} {self.installed_period}"


class ReadSource(models.TextChoices):
    HANDHELD = "handheld", "Handheld (HHC)"
    MANUAL = "manual", "Manual entry"
    REMOTE = "remote", "Remote reading (AMR/AMI)"
    CUSTOMER = "customer", "Customer self-read"
    ESTIMATED = "estimated", "Estimated"


class ReadKind(models.TextChoices):
    REGULAR = "regular", "Regular"
    INITIAL = "initial", "Initial (meter installed)"
    FINAL = "final", "Final (meter removed)"


class ReadStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REPLACED = "replaced", "Replaced"


class ReadingChannel(models.TextChoices):
    API = "api", "API"
    CLI = "cli", "Command line"
    BACKOFFICE = "backoffice", "Back office"


class ReadBatch(models.Model):
    """One uploaded batch of register reads. ``(utility, submitted_by, external_id)`` is the
    idempotency key: the same batch again returns ``results`` and changes nothing."""

    utility = models.ForeignKey("accounts.Utility", on_delete=models.PROTECT)
    channel = models.CharField(max_length=10, choices=ReadingChannel.choices)
    submitted_by = models.CharField(max_length=64)
    external_id = models.CharField(max_length=100)
    content_sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField()
    row_count = models.PositiveIntegerField()
    accepted_count = models.PositiveIntegerField()
    duplicate_count = models.PositiveIntegerField()
    quarantined_count = models.PositiveIntegerField()
    file_errors = models.JSONField(default=list, blank=True)
    results = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name_plural = "read batches"
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "submitted_by", "external_id"], name="read_batch_once"
            ),
            models.CheckConstraint(
                condition=Q(
                    row_count=F("accepted_count") + F("duplicate_count") + F("quarantined_count")
                ),
                name="read_batch_counts",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.submitted_by}/{self.external_id}"


class RegisterRead(models.Model):
    """A register value at an instant. Estimates are marked by their source; an estimate that an
    actual read replaces keeps its row with status ``replaced``."""

    register = models.ForeignKey(Register, on_delete=models.PROTECT, related_name="reads")
    installation = models.ForeignKey(Installation, on_delete=models.PROTECT, related_name="reads")
    read_at = models.DateTimeField()
    # The local date of read_at in the utility's zone: reads are matched to reading dates by it.
    read_date = models.DateField()
    value = models.DecimalField(max_digits=14, decimal_places=3)
    source = models.CharField(max_length=10, choices=ReadSource.choices)
    kind = models.CharField(max_length=8, choices=ReadKind.choices, default=ReadKind.REGULAR)
    status = models.CharField(max_length=8, choices=ReadStatus.choices, default=ReadStatus.ACTIVE)
    # VEE findings kept with the read (rollover, or a high/low a clerk accepted).
    flags = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    estimation_method = models.CharField(max_length=16, blank=True)
    estimated_daily = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    batch = models.ForeignKey(ReadBatch, on_delete=models.PROTECT, null=True, blank=True)
    replaced_by = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaces"
    )
    recorded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["register", "read_at"],
                condition=Q(status="active"),
                name="one_active_read_per_register_instant",
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="read_value_not_negative"),
            models.CheckConstraint(
                condition=Q(source="estimated", estimation_method__gt="")
                | (~Q(source="estimated") & Q(estimation_method="")),
                name="read_estimate_has_method",
            ),
            models.CheckConstraint(
                condition=Q(status="active", replaced_by__isnull=True)
                | Q(status="replaced", replaced_by__isnull=False),
                name="read_replaced_points_on",
            ),
        ]
        indexes = [
            models.Index(
                fields=["installation", "read_date"],
                condition=Q(status="active"),
                name="read_installation_date",
            ),
            models.Index(
                fields=["register", "read_date"],
                condition=Q(status="active"),
                name="read_register_date",
            ),
            models.Index(fields=["batch"], name="read_batch"),
        ]

    def __str__(self) -> str:
        return f"{self.register_id} {self.read_at:%Y-%m-%d %H:%M} {self.value}"


class QuarantineStatus(models.TextChoices):
    OPEN = "open", "Open"
    CORRECTED = "corrected", "Corrected"
    ACCEPTED = "accepted", "Accepted as read"
    DISMISSED = "dismissed", "Dismissed"


class QuarantinedRead(models.Model):
    """A batch row that failed validation, kept with its raw text and the reasons, until a clerk
    corrects it, accepts it (only for soft findings: high, low, zero) or dismisses it."""

    batch = models.ForeignKey(ReadBatch, on_delete=models.PROTECT, related_name="quarantined")
    row_number = models.PositiveIntegerField()
    raw = models.JSONField()
    reasons = ArrayField(models.CharField(max_length=32))
    message = models.TextField()
    can_accept = models.BooleanField(default=False)
    # What could be parsed from the row, for the clerk and for correction.
    meter_serial = models.CharField(max_length=64, blank=True)
    register_code = models.CharField(max_length=32, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    value = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    source = models.CharField(max_length=10, blank=True)
    status = models.CharField(
        max_length=9, choices=QuarantineStatus.choices, default=QuarantineStatus.OPEN
    )
    resolved_read = models.ForeignKey(
        RegisterRead, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_by = models.CharField(max_length=64, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "row_number"], name="quarantine_row_once"),
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True)
                | (~Q(status="open") & Q(resolved_at__isnull=False)),
                name="quarantine_resolution_dated",
            ),
        ]
        indexes = [
            models.Index(
                fields=["batch", "row_number"],
                condition=Q(status="open"),
                name="quarantine_open",
            )
        ]

    def __str__(self) -> str:
        return f"row {self.row_number} of batch {self.batch_id}: {', '.join(self.reasons)}"


class ConsumptionRevision(models.Model):
    """Consumption of a service point changed for ``revised_period`` after it may have been
    billed (an estimate replaced by an actual read): billing rebills what overlaps it."""

    service_point = models.ForeignKey(
        "accounts.ServicePoint", on_delete=models.PROTECT, related_name="consumption_revisions"
    )
    register = models.ForeignKey(Register, on_delete=models.PROTECT, related_name="+")
    revised_period = DateRangeField()
    reason = models.CharField(max_length=24)
    old_read = models.ForeignKey(RegisterRead, on_delete=models.PROTECT, related_name="+")
    new_read = models.ForeignKey(RegisterRead, on_delete=models.PROTECT, related_name="+")
    old_value = models.DecimalField(max_digits=14, decimal_places=3)
    new_value = models.DecimalField(max_digits=14, decimal_places=3)
    revised_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["service_point", "revised_at"], name="revision_service_point"),
            models.Index(fields=["revised_at"], name="revision_revised_at"),
        ]

    def __str__(self) -> str:
        return f"{self.service_point_id} {self.revised_period} {self.reason}"


class ReadingCycle(models.Model):
    """A group of routes read on the same calendar (EVN reads each route on a fixed day)."""

    utility = models.ForeignKey("accounts.Utility", on_delete=models.PROTECT)
    code = models.CharField(max_length=16)
    name = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["utility", "code"], name="reading_cycle_code_unique")
        ]

    def __str__(self) -> str:
        return self.code


class ReadingDate(models.Model):
    """A scheduled reading date of a cycle: the reading calendar."""

    cycle = models.ForeignKey(ReadingCycle, on_delete=models.CASCADE, related_name="dates")
    date = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cycle", "date"], name="reading_date_once"),
        ]

    def __str__(self) -> str:
        return f"{self.cycle_id} {self.date}"


class Route(models.Model):
    """A meter reader's walk: service points in reading order (lộ trình ghi chỉ số)."""

    utility = models.ForeignKey("accounts.Utility", on_delete=models.PROTECT)
    cycle = models.ForeignKey(ReadingCycle, on_delete=models.PROTECT, related_name="routes")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["utility", "code"], name="route_code_unique")
        ]

    def __str__(self) -> str:
        return self.code


class RouteStop(models.Model):
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="stops")
    service_point = models.OneToOneField(
        "accounts.ServicePoint", on_delete=models.PROTECT, related_name="route_stop"
    )
    sequence = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["route", "sequence"], name="route_stop_sequence"),
        ]

    def __str__(self) -> str:
        return f"{self.route_id}#{self.sequence}"


class IntervalChannel(models.TextChoices):
    """Interval channels and the fixed-point unit each stores its integers in."""

    ENERGY_DELIVERED = "kwh", "Energy delivered (Wh)"
    ENERGY_RECEIVED = "kwh_received", "Energy received (Wh)"
    VOLTAGE = "voltage", "Voltage (0.1 V)"
    CURRENT = "current", "Current (mA)"
    POWER_FACTOR = "power_factor", "Power factor (0.001)"
    MAX_POWER = "p_max", "Maximum power (W)"
    FREQUENCY = "frequency", "Frequency (mHz)"


class IntervalQuality(models.IntegerChoices):
    VALID = 0, "Valid"
    ESTIMATED = 1, "Estimated"
    MISSING = 2, "Missing"
    EDITED = 3, "Edited"
    QUESTIONABLE = 4, "Questionable"


class IntervalDay(models.Model):
    """One meter's channel over one local day: ``values[i]`` is the interval starting
    ``i × interval_minutes`` after local midnight (92, 96 or 100 quarter-hours). ``quality`` is
    null when every value is valid, else one flag per value. ``total`` and ``peak`` are the
    day's sum and maximum, kept for fast profiles and demand. ``running_totals[i]`` is the sum
    of ``values[1..i]`` (written with the values at load and merge), so a TOU bucket's sum over
    intervals ``lo..hi`` is ``running_totals[hi] − running_totals[lo − 1]`` without reading
    the values; it is null when a running total would not fit a 32-bit integer (queries then
    sum the values)."""

    pk = models.CompositePrimaryKey("meter", "channel", "day")
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT)
    channel = models.CharField(max_length=12, choices=IntervalChannel.choices)
    day = models.DateField()
    interval_minutes = models.PositiveSmallIntegerField()
    values = ArrayField(models.IntegerField())
    quality = ArrayField(models.SmallIntegerField(), null=True, blank=True)
    total = models.BigIntegerField()
    peak = models.IntegerField()
    running_totals = ArrayField(models.IntegerField(), null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(interval_minutes__in=[5, 15, 30, 60]), name="interval_day_minutes"
            ),
            models.CheckConstraint(condition=Q(values__len__gte=1), name="interval_day_values"),
            models.CheckConstraint(
                condition=Q(quality__isnull=True)
                | Q(quality__len=models.Func(F("values"), 1, function="array_length")),
                name="interval_day_quality_length",
            ),
            models.CheckConstraint(
                condition=Q(running_totals__isnull=True)
                | Q(running_totals__len=models.Func(F("values"), 1, function="array_length")),
                name="interval_day_running_totals_length",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.meter_id}/{self.channel} {self.day}"


class IntervalFileFormat(models.TextChoices):
    HEAD_END = "headend", "Head-end CSV"
    GREEN_BUTTON = "greenbutton", "Green Button (ESPI) XML"


class IntervalImportStatus(models.TextChoices):
    STORED = "stored", "Stored (every row)"
    QUARANTINED = "quarantined", "Stored, some rows quarantined"
    REFUSED = "refused", "Refused (whole-file error)"


class IntervalRejection(models.TextChoices):
    """Why an interval row waits in the quarantine (the codes the importers give)."""

    BAD_CSV = "bad-csv", "Unreadable CSV row"
    WRONG_FIELD_COUNT = "wrong-field-count", "Wrong number of fields"
    UNKNOWN_CHANNEL = "unknown-channel", "Unknown channel"
    BAD_TIMESTAMP = "bad-timestamp", "Bad timestamp"
    TIMESTAMP_WITHOUT_ZONE = "timestamp-without-zone", "Timestamp without a zone"
    BAD_NUMBER = "bad-number", "Bad number"
    BAD_QUALITY = "bad-quality", "Bad quality flag"
    BAD_INTERVAL = "bad-interval", "Bad interval length"
    BAD_STRUCTURE = "bad-structure", "Broken reading structure"
    UNKNOWN_METER = "unknown-meter", "Unknown meter"
    NO_INTERVAL_DATA = "no-interval-data", "Meter keeps no intervals"
    INTERVAL_LENGTH_MISMATCH = "interval-length-mismatch", "Interval length of another meter"
    INTERVAL_LENGTHS_MIXED = "interval-lengths-mixed", "File mixes interval lengths for a day"
    INTERVAL_LENGTH_CLASH = "interval-length-clash", "Day stored with another interval length"
    MISALIGNED_INTERVAL = "misaligned-interval", "Off the interval grid"
    DUPLICATE_ROW = "duplicate-row", "Duplicate row"


class IntervalImport(models.Model):
    """One interval file received (head-end CSV or Green Button XML). ``(utility, file_format,
    meter_serial, content_sha256)`` is the idempotency key: the same file again returns this
    record and stores nothing. A file refused as a whole is recorded too, with its reason."""

    utility = models.ForeignKey("accounts.Utility", on_delete=models.PROTECT)
    file_format = models.CharField(max_length=11, choices=IntervalFileFormat.choices)
    file_name = models.CharField(max_length=255, blank=True)
    content_sha256 = models.CharField(max_length=64)
    # The serial a Green Button file was imported for ('' when the file names its meters).
    meter_serial = models.CharField(max_length=32, blank=True)
    # The CSV header line, or the Green Button feed's id and title.
    header = models.TextField(blank=True)
    received_at = models.DateTimeField()
    status = models.CharField(max_length=11, choices=IntervalImportStatus.choices)
    reason = models.TextField(blank=True)
    rows_read = models.PositiveIntegerField(default=0)
    rows_stored = models.PositiveIntegerField(default=0)
    rows_quarantined = models.PositiveIntegerField(default=0)
    days_loaded = models.PositiveIntegerField(default=0)
    values_loaded = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "file_format", "meter_serial", "content_sha256"],
                name="interval_import_once",
            ),
            models.CheckConstraint(
                condition=Q(rows_read=F("rows_stored") + F("rows_quarantined")),
                name="interval_import_counts",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="refused", rows_read=0) & ~Q(reason="")
                    | Q(status="stored", rows_quarantined=0)
                    | Q(status="quarantined", rows_quarantined__gt=0)
                ),
                name="interval_import_status",
            ),
        ]
        indexes = [
            models.Index(fields=["utility", "-received_at"], name="interval_import_received"),
        ]

    def __str__(self) -> str:
        return f"interval import {self.id} ({self.file_name or self.content_sha256[:12]})"


class QuarantineResolution(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class QuarantinedInterval(models.Model):
    """A row of an interval file that could not be stored, kept with its raw text and reason
    until a clerk corrects it (head-end CSV rows) or marks it resolved."""

    interval_import = models.ForeignKey(
        IntervalImport, on_delete=models.PROTECT, related_name="quarantined"
    )
    # The CSV line number, or the reading's position in a Green Button file (1 = first).
    row_number = models.PositiveIntegerField()
    row_ref = models.CharField(max_length=60)  # "line 12", "entry 4 reading 7"
    raw = models.TextField()
    reason = models.CharField(max_length=32, choices=IntervalRejection.choices)
    message = models.TextField()
    meter_serial = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=32, blank=True)
    status = models.CharField(
        max_length=8, choices=QuarantineResolution.choices, default=QuarantineResolution.OPEN
    )
    corrected_raw = models.TextField(blank=True)  # the row as a clerk corrected and stored it
    resolved_by = models.CharField(max_length=64, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["interval_import", "row_number"], name="quarantined_interval_once"
            ),
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True, resolved_by="")
                | Q(status="resolved", resolved_at__isnull=False, resolved_by__gt=""),
                name="quarantined_interval_resolution",
            ),
        ]
        indexes = [
            models.Index(
                fields=["reason", "id"],
                condition=Q(status="open"),
                name="quarantined_interval_open",
            ),
            models.Index(fields=["meter_serial", "id"], name="quarantined_interval_meter"),
        ]

    def __str__(self) -> str:
        return f"{self.row_ref} of interval import {self.interval_import_id}: {self.reason}"
