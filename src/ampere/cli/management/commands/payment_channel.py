"""`ampere payment_channel`: register a payment channel and its policy."""

from __future__ import annotations

from argparse import ArgumentParser
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ampere.accounts.queries import get_utility_id
from ampere.core.errors import DomainError
from ampere.payments.operations import create_channel


class Command(BaseCommand):
    help = "Register a payment channel (bank, gateway, direct_debit, pos, counter, lockbox)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--utility", required=True, help="utility code, e.g. evn-hcmc")
        parser.add_argument("--code", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--kind", required=True)
        parser.add_argument("--partner", default="", help="API client code posting through it")
        parser.add_argument(
            "--accepts-credit",
            action="store_true",
            help="keep a payment for a paid bill as credit on account instead of refusing it",
        )
        parser.add_argument("--reversal-fee", default="0", help="charged on a recall or bounce")
        parser.add_argument("--gateway", default="", help="gateway adapter (simulator)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            fee = Decimal(options["reversal_fee"])
        except InvalidOperation:
            raise CommandError(
                f"--reversal-fee: {options['reversal_fee']!r} is not an amount"
            ) from None
        try:
            channel = create_channel(
                utility_id=get_utility_id(code=options["utility"]),
                code=options["code"],
                name=options["name"],
                kind=options["kind"],
                partner_code=options["partner"],
                accepts_credit_on_account=options["accepts_credit"],
                reversal_fee=fee,
                gateway=options["gateway"],
            )
        except DomainError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"channel {channel.code} ({channel.kind}) for {channel.utility_code}")
