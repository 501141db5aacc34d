"""`ampere access grant|token`: the API's credentials for people — let a login act for a
customer; issue a bearer token. It lives with the API because it manages the API's own records."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from ampere.accounts.operations import grant_customer_access
from ampere.api.auth import issue_access_token
from ampere.core.errors import DomainError


class Command(BaseCommand):
    help = "Grant a login access to a customer's accounts, or issue a bearer token."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        grant = sub.add_parser("grant", help="let --user act for the holder of --account")
        grant.add_argument("--user", required=True)
        grant.add_argument("--account", required=True, help="account number (new or legacy)")
        grant.add_argument("--create-user", action="store_true", help="create the login if new")
        token = sub.add_parser("token", help="issue a bearer token for --user")
        token.add_argument("--user", required=True)
        token.add_argument("--name", default="cli")
        token.add_argument("--days", type=int, default=90)

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model()
        now = datetime.now(UTC)
        user = users.objects.filter(username=options["user"]).first()
        if user is None and options.get("create_user"):
            user = users.objects.create_user(username=options["user"])
            user.set_unusable_password()
            user.save()
        if user is None:
            raise CommandError(f"user: no login named {options['user']!r}")
        try:
            if options["action"] == "grant":
                customer_id = grant_customer_access(
                    user_id=user.id, account_number=options["account"], now=now
                )
                self.stdout.write(f"{user.get_username()} may act for customer {customer_id}")
            else:
                if not 1 <= options["days"] <= 366:
                    raise CommandError("days: a token lives 1 to 366 days")
                token = issue_access_token(
                    user_id=user.id, name=options["name"], days=options["days"], now=now
                )
                self.stdout.write(f"Bearer token (shown once): {token}")
        except DomainError as error:
            raise CommandError(str(error)) from error
