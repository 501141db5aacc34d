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


def demo_logins_path() -> Path:
    return Path(settings.DATA_DIR) / "demo-logins.txt"


def ensure_demo_logins(codes: tuple[str, ...], *, now: datetime) -> list[str]:
    """A staff login per demo utility (``staff-<code>``, in the group named after the utility:
    see ``ampere.web.viewer.staff_utility``) and a customer login (``customer-<code>``) for the
    holder of an account with a bill, each with a random password kept in
    ``var/demo-logins.txt``; the lines "console|portal user password" of every login."""
    from django.contrib.auth.models import Group

    from ampere.accounts.operations import grant_customer_access
    from ampere.accounts.queries import get_utility_id
    from ampere.billing.queries import find_billed_account_number

    path = demo_logins_path()
    kept = {parts[1]: parts for parts in (line.split() for line in _lines(path)) if len(parts) == 3}
    user_model = get_user_model()
    for code in codes:
        staff = f"staff-{code}"
        if staff not in kept or not user_model.objects.filter(username=staff).exists():
            password = secrets.token_urlsafe(12)
            user, _ = user_model.objects.get_or_create(username=staff)
            user.is_staff = True
            user.set_password(password)
            user.save()
            user.groups.add(Group.objects.get_or_create(name=code)[0])
            kept[staff] = ["console", staff, password]
        customer = f"customer-{code}"
        number = find_billed_account_number(utility_id=get_utility_id(code=code))
        if number is None:
            continue
        if customer not in kept or not user_model.objects.filter(username=customer).exists():
            password = secrets.token_urlsafe(12)
            user, _ = user_model.objects.get_or_create(username=customer)
            user.set_password(password)
            user.save()
            grant_customer_access(user_id=user.pk, account_number=number, now=now)
            kept[customer] = ["portal", customer, password]
    lines = [" ".join(parts) for parts in kept.values()]
    path.write_text("".join(f"{line}\n" for line in lines))
    path.chmod(0o600)
    return lines


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


class Command(BaseCommand):
    help = "Set up and serve Ampere: migrate, tariffs, demo data once, staff login once, serve."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--demo-accounts", type=int, default=2000)
        parser.add_argument("--no-serve", action="store_true", help="set up, then stop")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("compile_catalogues", verbosity=0)
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
        base = f"http://{options['host']}:{options['port']}"
        self.stdout.write(
            self.style.SUCCESS(f"\nAmpere back office: {base}/admin/\n{password_note}\n")
        )
        logins = ensure_demo_logins(DEMO_UTILITIES, now=now)
        self.stdout.write(
            self.style.SUCCESS(
                f"Staff console: {base}/console/   Customer portal: {base}/portal/\n"
                f"Demo logins (kept in {demo_logins_path()}):"
            )
        )
        for line in logins:
            self.stdout.write(f"  {line}")
        self.stdout.write("")
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

    def _ensure_staff_login(self) -> str:  # the back office's administrator
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
