"""``payments_post_payment`` reads by index whatever a table's size when its plans were made.

A connection caches the plans of the function's statements the first time it calls it (the
application's connections use generic plans). A plan made while the payments table was still
empty or small (a new database, the payments benchmark) looked transaction ids up by scanning
the table, and kept doing so for the life of the connection as the table grew: every payment
read every payment before it. Every statement of the function has an index to read by, so
sequential scans are off for its duration (measured on 6,000 payments into an empty table:
0.86 ms of PostgreSQL CPU per payment before, 0.51 ms after).
"""

from django.db import migrations

SIGNATURE = """payments_post_payment(bigint, text, text, text, text, numeric, text, text,
    timestamptz, date, timestamptz, text, text, text, text, bigint, text, text, boolean)"""


class Migration(migrations.Migration):
    dependencies = [("payments", "0002_post_payment_function")]

    operations = [
        migrations.RunSQL(
            f"ALTER FUNCTION {SIGNATURE} SET enable_seqscan = off;",
            f"ALTER FUNCTION {SIGNATURE} RESET enable_seqscan;",
        )
    ]
