"""`ampere up` (what `make run` calls): migrate, load tariffs, demo data the first time (accounts,
meters and reads, billing cycles) and one bill run per demo utility, a staff login the first
time, then serve."""

from __future__ import annotations

import secrets
from argparse import ArgumentParser
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from ampere.accounts.demo import demo_account_count
from ampere.accounts.operations import ensure_utility
from ampere.billing.demo import latest_billable_cycle
from ampere.billing.queries import has_bills
from ampere.core.localtime import local_date, zone
from ampere.rating.operations import load_shipped_tariffs

DEMO_UTILITIES = ("evn-hcmc", "evn-spc", "sce")


class Command(BaseCommand):
    help = "Set up and serve Ampere: migrate, tariffs, demo data once, staff login once, serve."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--demo-accounts", type=int, default=2000)
        parser.add_argument("--no-serve", action="store_true", help="set up, then stop")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("Migrating the database ...")
        call_command("migrate", verbosity=0)
        report = load_shipped_tariffs()
        self.stdout.write(
            f"Tariffs loaded ({report.tariffs_created} new, {report.tariffs_updated} up to date)."
        )
        now = datetime.now(UTC)
        year = now.year
        for code in DEMO_UTILITIES:
            utility_id = ensure_utility(code=code, holiday_years=range(year - 2, year + 3))
            if not demo_account_count(utility_code=code):
                self.stdout.write(f"Demo data for {code} ...")
                call_command(
                    "demo", utility=code, accounts=options["demo_accounts"], seed=1, verbosity=0
                )
            if not has_bills(utility_id=utility_id):
                self._bill_demo(code, now)
        password_note = self._ensure_staff_login()
        url = f"http://{options['host']}:{options['port']}/admin/"
        self.stdout.write(self.style.SUCCESS(f"\nAmpere back office: {url}\n{password_note}\n"))
        if not options["no_serve"]:
            call_command("serve", host=options["host"], port=options["port"])

    def _bill_demo(self, code: str, now: datetime) -> None:
        """One bill run for the demo utility: the cycle read most recently."""
        from ampere.accounts.presets import PRESETS

        today = local_date(now, zone(PRESETS[code].time_zone))
        found = latest_billable_cycle(utility_code=code, as_of=today)
        if found is None:
            return
        cycle, _ = found
        self.stdout.write(f"Bill run of {code} cycle {cycle} ...")
        call_command(
            "billrun",
            utility=code,
            cycle=cycle,
            as_of=today,
            no_documents=True,
            quiet=True,
            stdout=self.stdout,
        )

    def _ensure_staff_login(self) -> str:
        user_model = get_user_model()
        path = Path(settings.DATA_DIR) / "admin-password.txt"
        if not user_model.objects.filter(is_superuser=True).exists():
            password = secrets.token_urlsafe(12)
            user_model.objects.create_superuser("admin", "admin@ampere.invalid", password)
            path.write_text(f"admin {password}\n")
            path.chmod(0o600)
            return f"Log in as admin with password {password} (kept in {path})."
        if path.exists():
            user, password = path.read_text().split()
            return f"Log in as {user} with password {password} (kept in {path})."
        return "Log in with your staff account."
