"""Running (cumulative) Wh totals per interval on each interval day, so that a TOU bucket's sum
is two array subscripts instead of an unnest of the values; existing days are backfilled."""

import django.contrib.postgres.fields
from django.db import migrations, models

# running_totals[i] = values[1] + ... + values[i]; null when a running total leaves int4.
BACKFILL = """
UPDATE metering_intervalday d
SET running_totals = (
    SELECT CASE WHEN max(abs(x.c)) <= 2147483647
                THEN array_agg(x.c::integer ORDER BY x.i) END
    FROM (SELECT u.i, sum(u.v::bigint) OVER (ORDER BY u.i) AS c
          FROM unnest(d.values) WITH ORDINALITY AS u(v, i)) x
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("metering", "0002_interval_import_quarantine"),
    ]

    operations = [
        migrations.AddField(
            model_name="intervalday",
            name="running_totals",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.IntegerField(), blank=True, null=True, size=None
            ),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name="intervalday",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("running_totals__isnull", True),
                    (
                        "running_totals__len",
                        models.Func(models.F("values"), 1, function="array_length"),
                    ),
                    _connector="OR",
                ),
                name="interval_day_running_totals_length",
            ),
        ),
    ]
