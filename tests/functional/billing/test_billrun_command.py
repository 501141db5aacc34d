"""`ampere billrun` and `ampere demo` through the command line: in this process, in a real
subprocess killed mid-way and run again, and on two Celery workers over the machine's Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum

from ampere.accounts.models import LedgerEntry
from ampere.billing.models import Bill, BillRun, BillRunPartition
from ampere.config.celery import app

AS_OF = date(2026, 10, 26)  # every demo cycle read in October by the 25th
ROOT = Path(__file__).resolve().parents[3]
AMPERE = str(Path(sys.executable).with_name("ampere"))


def demo(accounts: int) -> None:
    call_command(
        "demo",
        utility="evn-hcmc",
        accounts=accounts,
        seed=5,
        as_of=AS_OF,
        months=2,
        stdout=StringIO(),
        stderr=StringIO(),
    )


def environment(**extra: str) -> dict[str, str]:
    database = settings.DATABASES["default"]
    url = (
        f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )
    env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
    env.update(DATABASE_URL=url, AMPERE_LOG_LEVEL="ERROR", **extra)
    return env


def use_broker(**conf: object) -> None:
    """Point this process's Celery app at a broker: the connection pool and the routes the app
    made for the settings of earlier tests (eager, no broker) are made again."""
    app.close()
    app.__dict__.pop("amqp", None)
    app.conf.update(**conf)


def check_one_bill_each_and_the_ledger(run_id: int) -> None:
    """Exactly one original bill per agreement and period, and ledger charges = issued bills."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*), count(DISTINCT (agreement_id, period)) FROM billing_bill
            WHERE bill_run_id = %s AND kind = 'original'
            """,
            [run_id],
        )
        bills, distinct = cursor.fetchone()
    run = BillRun.objects.get(id=run_id)
    assert bills == distinct == run.account_count
    issued = Bill.objects.filter(bill_run_id=run_id, status="issued").aggregate(s=Sum("total"))
    posted = LedgerEntry.objects.filter(created_by=f"billrun:{run_id}").aggregate(s=Sum("amount"))
    assert issued["s"] == posted["s"]
    assert LedgerEntry.objects.filter(created_by=f"billrun:{run_id}").count() == (
        Bill.objects.filter(bill_run_id=run_id, status="issued", total__gt=0).count()
    )


@pytest.mark.django_db
def test_demo_then_billrun_in_this_process():
    demo(40)
    out = StringIO()
    call_command(
        "billrun",
        utility="evn-hcmc",
        cycle="C01",
        as_of=AS_OF,
        no_documents=True,
        quiet=True,
        stdout=out,
    )
    text = out.getvalue()
    run = BillRun.objects.get()
    assert text.startswith(
        f"Running bill run {run.id}: evn-hcmc cycle C01 2026-10, period "
        "[2026-09-01, 2026-10-01), bill date 2026-10-26, due 2026-11-02; 40 accounts in 1 "
        "partitions"
    )
    assert f"Run {run.id} completed: 40 bills issued, 0 held for review" in text
    check_one_bill_each_and_the_ledger(run.id)
    again = StringIO()
    call_command(
        "billrun", utility="evn-hcmc", cycle="C01", as_of=AS_OF, no_documents=True, stdout=again
    )
    assert "0 bills issued" in again.getvalue()
    assert Bill.objects.count() == 40


@pytest.mark.django_db
def test_billrun_names_what_is_wrong():
    demo(5)
    with pytest.raises(Exception, match="cycle: no billing cycle 'C99' of evn-hcmc"):
        call_command("billrun", utility="evn-hcmc", cycle="C99", as_of=AS_OF)
    with pytest.raises(Exception, match="cycle: billing cycle 'C01' has no schedule for 2099-01"):
        call_command("billrun", utility="evn-hcmc", cycle="C01", as_of=date(2099, 1, 1))
    with pytest.raises(
        Exception,
        match=r"as_of: the reads of \[2026-09-25, 2026-10-25\) are due on 2026-10-25, after "
        "2026-10-24",
    ):
        call_command("billrun", utility="evn-hcmc", cycle="C25", as_of=date(2026, 10, 24))
    assert BillRun.objects.count() == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_killed_mid_way_resumes_and_bills_each_agreement_once(tmp_path):
    demo(400)
    command = [
        AMPERE,
        "billrun",
        "--utility",
        "evn-hcmc",
        "--cycle",
        "C01",
        "--as-of",
        AS_OF.isoformat(),
        "--partition-size",
        "8",
        "--no-documents",
        "--quiet",
    ]
    env = environment(AMPERE_DATA_DIR=str(tmp_path))
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and process.poll() is None:
        done = BillRunPartition.objects.filter(status="done").count()
        if done >= 1:
            break
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    run = BillRun.objects.get()
    left = BillRunPartition.objects.exclude(status="done").count()
    assert done >= 1 and left >= 1, "the run must be killed mid-way"
    assert run.status == "running"
    billed = Bill.objects.count()
    assert billed == sum(
        BillRunPartition.objects.filter(status="done").values_list("account_count", flat=True)
    )
    again = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"Resuming bill run {run.id}")
    run.refresh_from_db()
    assert run.status == "completed"
    assert run.account_count == 400
    check_one_bill_each_and_the_ledger(run.id)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_on_two_celery_workers(tmp_path, settings):
    demo(300)
    broker = "redis://127.0.0.1:6379/0"
    queue = f"billrun-test-{uuid.uuid4().hex[:10]}"
    env = environment(CELERY_BROKER_URL=broker, AMPERE_DATA_DIR=str(tmp_path))
    workers = [
        subprocess.Popen(
            [
                str(Path(sys.executable).with_name("celery")),
                "-A",
                "ampere.config",
                "worker",
                "--pool",
                "solo",
                "-Q",
                queue,
                "-n",
                f"{name}-{queue}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "warning",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in ("one", "two")
    ]
    saved = {k: app.conf[k] for k in ("broker_url", "task_always_eager", "task_default_queue")}
    settings.CELERY_BROKER_URL = broker
    use_broker(broker_url=broker, task_always_eager=False, task_default_queue=queue)
    try:
        out = StringIO()
        call_command(
            "billrun",
            utility="evn-hcmc",
            cycle="C01",
            as_of=AS_OF,
            partition_size=10,
            no_documents=True,
            quiet=True,
            stdout=out,
        )
    finally:
        use_broker(**saved)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        client = redis.Redis.from_url(broker)
        for key in client.scan_iter(f"*{queue}*"):  # the queue's bindings and leftovers
            client.delete(key)
    run = BillRun.objects.get()
    assert f"Run {run.id} completed: 300 bills issued" in out.getvalue()
    assert run.partition_count == 30
    takers = set(BillRunPartition.objects.values_list("worker", flat=True))
    assert len(takers) == 2 and all(t.startswith("celery:") for t in takers)
    check_one_bill_each_and_the_ledger(run.id)


@pytest.mark.django_db
def test_rebill_revisions_from_the_command_line():
    demo(3)
    out = StringIO()
    call_command("billrun", utility="evn-hcmc", rebill_revisions=True, stdout=out)
    assert out.getvalue() == "0 revisions read; 0 bills cancelled and rebilled.\n"
    with pytest.raises(Exception, match="--rebill-revisions needs --utility"):
        call_command("billrun", rebill_revisions=True)
