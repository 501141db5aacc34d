from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ampere.payments.models import Channel, Payment
from tests.factories.accounts import AccountFactory, UtilityFactory
from tests.factories.payments import bill

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_channels_files_and_collections_from_the_command_line(tmp_path):
    utility = UtilityFactory(code="evn-hcmc")
    account = AccountFactory(utility=utility)
    bill(account.id, 300_000, date(2025, 6, 20), "HD-06")
    assert (
        run(
            "payment_channel",
            "--utility",
            "evn-hcmc",
            "--code",
            "lockbox-hcm",
            "--name",
            "Lockbox",
            "--kind",
            "lockbox",
            "--accepts-credit",
        )
        == "channel lockbox-hcm (lockbox) for evn-hcmc\n"
    )
    assert Channel.objects.get(code="lockbox-hcm").accepts_credit_on_account is True
    with pytest.raises(CommandError, match="'wire' is not one of"):
        run(
            "payment_channel",
            "--utility",
            "evn-hcmc",
            "--code",
            "x",
            "--name",
            "X",
            "--kind",
            "wire",
        )
    file = tmp_path / "lb-0603.csv"
    file.write_text(
        "reference,account_number,amount,currency,paid_on\n"
        f"LB-1,{account.number},100000,VND,2025-06-02\n"
        "LB-2,nobody,100,VND,2025-06-02\n"
    )
    out = run("import_lockbox", str(file), "--channel", "lockbox-hcm")
    assert out.splitlines()[1:] == ["  line 3: account_number: no account with number 'nobody'"]
    assert out.splitlines()[0].endswith(": 1 posted, 0 posted before, 1 in quarantine")
    assert "was imported before" in run("import_lockbox", str(file), "--channel", "lockbox-hcm")
    settlement = tmp_path / "s.csv"
    settlement.write_text(
        f"transaction_id,account_number,amount,currency\nLB-1,{account.number},100000,VND\n"
    )
    out = run(
        "import_settlement", str(settlement), "--channel", "lockbox-hcm", "--date", "2025-06-02"
    )
    assert "1 matched" in out and "0 to resolve" in out
    with pytest.raises(CommandError, match="no payment channel 'nope'"):
        run("import_lockbox", str(file), "--channel", "nope")
    run(
        "payment_channel",
        "--utility",
        "evn-hcmc",
        "--code",
        "autopay",
        "--name",
        "Autopay",
        "--kind",
        "direct_debit",
    )
    out = run("collect_direct_debits", "--as-of", "2025-06-20")
    assert out == (
        "2025-06-20: 0 collected (nothing), 0 above their mandate's limit, "
        "of 0 mandates with something due\n"
    )
    assert Payment.objects.count() == 1
