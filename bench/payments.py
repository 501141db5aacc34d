"""Payments over HTTP: signed bank payments against `ampere serve`, beside pgbench's ceiling.

Builds (once, kept as a template database) demo-like accounts of EVN HCMC, each with six
months of paid bills and one open bill, a fifth of them with a legacy number; copies the
template to a fresh run database; starts `ampere serve` (Granian, WSGI) on loopback; then
separate client processes post signed payments for distinct accounts — each paying the open
bill, one in ten by legacy number — and send one payment in ten a second time (re-signed, as a
partner's retry does). Every answer is checked (the first send's receipt, the same receipt
marked replayed for the second). Prints payments per second and p50/p99 latency, the queries
and commits per payment, CPU per request of the server, of PostgreSQL (the run database's
backends, the server's background processes) and of the clients, WAL bytes per payment, the
in-process cost of the posting path, and pgbench's rate for single-row insert transactions on
a scratch database with as many clients, measured in the same run.

    .venv/bin/python bench/payments.py [--quick] [--accounts N] [--seconds S]
        [--workers W --threads T] [--no-production] [--commit-delay US]

The server is `ampere serve --production` (2 workers x 4 threads on two cores), loaded by 16
connections (8 kept 2 cores short of work: each waits for its commit's flush); the run database
commits in groups as Ampere's embedded server does (commit_delay 200 microseconds). The database
server is AMPERE_BENCH_POSTGRES (default 127.0.0.1:5432), the databases' names start with
AMPERE_BENCH_DB (default ampere_bench_payments). A server shared with other work, or
with the default 128 MB of shared buffers for a 0.5 GB database, measures its evictions as much
as the posting path: for a figure of the path, give the bench a server of its own, e.g. one
started with `-c shared_buffers=2GB -c max_wal_size=8GB` (fsync, synchronous_commit and
full_page_writes left on).

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import multiprocessing
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

ROOT = Path(__file__).resolve().parents[1]
SERVER_URL = os.environ.get("AMPERE_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
# Another name (AMPERE_BENCH_DB) keeps a checkout's databases apart from another's: the
# template's partner key is sealed with the SECRET_KEY of the checkout that built it.
RUN_DB = os.environ.get("AMPERE_BENCH_DB", "ampere_bench_payments")
TEMPLATE_DB = f"{RUN_DB}_tpl"
PGBENCH_DB = f"{RUN_DB}_pgbench"
PAY_PATH = "/api/v1/payments/payments"
PROFILE_ACCOUNTS = 400  # the last accounts are kept for the in-process profile
PAYMENT_SCRIPT = "payment"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def admin() -> psycopg.Connection[tuple[Any, ...]]:
    import psycopg

    return psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True)


def django_env(database: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = f"{SERVER_URL}/{database}"
    env["DJANGO_SETTINGS_MODULE"] = os.environ.get(
        "AMPERE_BENCH_SETTINGS", "ampere.config.settings"
    )  # another settings module, to compare (e.g. fewer middleware)
    env.setdefault("AMPERE_LOG_LEVEL", "ERROR")
    return env


# --- building the template database ---------------------------------------------------------


def build(accounts: int) -> None:
    """Runs in a child process with DATABASE_URL on the (empty) template database."""
    from datetime import UTC, date, datetime
    from decimal import Decimal

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from ampere.accounts import ledger
    from ampere.accounts.numbers import NumberScheme, format_number
    from ampere.accounts.operations import ensure_utility
    from ampere.api.auth import create_client
    from ampere.payments.operations import create_channel

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    now = datetime(2025, 6, 1, 1, 0, tzinfo=UTC)
    utility_id = ensure_utility(code="evn-hcmc")
    numbers = [
        format_number(scheme=NumberScheme.EVN13, prefix="PE", area="0100", serial=serial)
        for serial in range(1, accounts + 1)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_customer (utility_id, kind, name, search_name, national_id,
                tax_code, preferred_language, email, consent_sms, consent_email, created_at)
            SELECT %s, 'person', 'Khách hàng ' || g, 'khach hang ' || g, '', '', 'vi', '',
                   false, false, %s
            FROM generate_series(1, %s) g
            """,
            [utility_id, now, accounts],
        )
        cursor.execute(
            """
            INSERT INTO accounts_account (utility_id, customer_id, number, status, opened_on)
            SELECT %s, c.id, n.number, 'active', DATE '2024-01-01'
            FROM unnest(%s::text[]) WITH ORDINALITY AS n(number, i)
            JOIN (SELECT id, row_number() OVER (ORDER BY id) AS i FROM accounts_customer) c
              USING (i)
            """,
            [utility_id, numbers],
        )
        cursor.execute(
            """
            INSERT INTO accounts_legacyaccountnumber (utility_id, account_id, number,
                source_system)
            SELECT %s, id, 'HCM' || lpad(id::text, 9, '0'), 'CMIS 2'
            FROM accounts_account WHERE id %% 5 = 0
            """,
            [utility_id],
        )
        cursor.execute("SELECT id FROM accounts_account ORDER BY id")
        account_ids = [row[0] for row in cursor.fetchall()]
    rng = random.Random(6)
    months = [date(2024, m, 1) for m in range(12, 13)] + [date(2025, m, 1) for m in range(1, 7)]
    chunk = 5000
    for start in range(0, len(account_ids), chunk):
        part = account_ids[start : start + chunk]
        amounts = {a: [Decimal(rng.randrange(80, 900) * 1000) for _ in months] for a in part}
        with transaction.atomic():
            ledger.copy_entries(
                rows=(
                    ledger.ChargeRow(
                        a,
                        "charge",
                        amounts[a][i],
                        "VND",
                        month,
                        month.replace(day=20),
                        "bill",
                        f"HD-{month:%Y%m}-{a}",
                    )
                    for a in part
                    for i, month in enumerate(months)
                ),
                created_by="bench",
                now=now,
            )
            ledger.post_in_bulk(
                rows=[
                    ledger.ChargeRow(
                        a,
                        "payment",
                        -amounts[a][i],
                        "VND",
                        month.replace(day=15),
                        None,
                        "history",
                        f"{a}-{i}",
                    )
                    for a in part
                    for i, month in enumerate(months[:-1])
                ],
                created_by="bench",
                now=now,
            )
    _, key = create_client(
        code="bench-bank",
        name="Bench Bank",
        utility_id=utility_id,
        kind="bank",
        scopes=["payments"],
        now=now,
    )
    create_channel(
        utility_id=utility_id,
        code="bench-bank",
        name="Bench Bank",
        kind="bank",
        partner_code="bench-bank",
    )
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_meta (name text PRIMARY KEY, value text NOT NULL)")
        cursor.executemany(
            "INSERT INTO bench_meta VALUES (%s, %s)",
            [
                ("accounts", str(accounts)),
                ("key_id", key.key_id),
                ("secret", key.secret),
                ("schema", schema_fingerprint()),
            ],
        )
    connection.close()
    log(f"built {accounts} accounts in {time.perf_counter() - started:.1f} s")


def schema_fingerprint() -> str:
    """Changes when any migration changes: the template is then built again."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "ampere").glob("*/migrations/*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_template(accounts: int) -> None:
    import psycopg

    with admin() as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [TEMPLATE_DB]
        ).fetchone()
    if exists:
        with psycopg.connect(f"{SERVER_URL}/{TEMPLATE_DB}", autocommit=True) as conn:
            meta: dict[str, str]
            try:
                meta = dict(conn.execute("SELECT name, value FROM bench_meta").fetchall())
            except psycopg.Error:
                meta = {}
        if meta.get("accounts") == str(accounts):
            if meta.get("schema") != schema_fingerprint():
                # Newer migrations: apply them to the template rather than build it again.
                log("migrating the template database ...")
                subprocess.run(
                    [sys.executable, "-m", "django", "migrate", "--verbosity", "0"],
                    env=django_env(TEMPLATE_DB),
                    check=True,
                    cwd=ROOT,
                )
                with psycopg.connect(f"{SERVER_URL}/{TEMPLATE_DB}", autocommit=True) as conn:
                    conn.execute(
                        "UPDATE bench_meta SET value = %s WHERE name = 'schema'",
                        [schema_fingerprint()],
                    )
                    conn.execute("VACUUM ANALYZE")
            return
        with admin() as conn:
            conn.execute(f'DROP DATABASE "{TEMPLATE_DB}" WITH (FORCE)')
    with admin() as conn:
        conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    log(f"building the template database with {accounts} accounts ...")
    subprocess.run(
        [sys.executable, __file__, "_build", str(accounts)],
        env=django_env(TEMPLATE_DB),
        check=True,
        cwd=ROOT,
    )
    with psycopg.connect(f"{SERVER_URL}/{TEMPLATE_DB}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def fresh_run_database(commit_delay: int = 0) -> None:
    """A copy of the template. ``commit_delay`` (microseconds) turns on group commit for its
    sessions: a committing backend waits that long for others to flush the WAL with it (every
    commit is still flushed to disk before it is acknowledged)."""
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{RUN_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{RUN_DB}" TEMPLATE "{TEMPLATE_DB}"')
        if commit_delay:
            conn.execute(f'ALTER DATABASE "{RUN_DB}" SET commit_delay = {int(commit_delay)}')
            conn.execute(f'ALTER DATABASE "{RUN_DB}" SET commit_siblings = 2')


# --- the in-process profile ---------------------------------------------------------------------


def profile(count: int) -> None:
    """Runs in a child process on the run database: the posting path without a network."""
    import cProfile
    import io
    import pstats

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ampere.api.signing import signed_headers
    from ampere.config.wsgi import application as app  # what `ampere serve` serves

    with connection.cursor() as cursor:
        cursor.execute("SELECT name, value FROM bench_meta")
        meta = dict(cursor.fetchall())
    jobs = open_bills(limit=PROFILE_ACCOUNTS, last=True)
    base, counter = int(time.time()) - 250, [0]

    def call(method: str, path: str, body: bytes = b"", signed: bool = True) -> tuple[int, bytes]:
        counter[0] += 1  # a fresh signature for each call within the allowed skew
        headers = (
            signed_headers(
                key_id=meta["key_id"],
                secret=meta["secret"],
                method=method,
                path=path,
                body=body,
                timestamp=base + counter[0] % 500,
            )
            if signed
            else {}
        )
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
        for name, value in headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        status: list[str] = []

        def start_response(line: str, headers: Any, *exc: Any) -> Any:
            status.append(line)
            return None

        chunks = app(environ, start_response)
        out = b"".join(chunks)
        return int(status[0].split()[0]), out

    def timed(label: str, n: int, fn: Any) -> float:
        started = time.perf_counter()
        for i in range(n):
            fn(i)
        per = (time.perf_counter() - started) / n * 1000
        log(f"  {label:<44} {per:7.3f} ms")
        return per

    call("GET", "/healthz", signed=False)
    results: dict[str, Any] = {}
    results["healthz_ms"] = timed(
        "GET /healthz (middleware + SELECT 1)", 300, lambda i: call("GET", "/healthz", signed=False)
    )
    results["whoami_ms"] = timed(
        "GET whoami (+ ninja, signature, audit row)",
        300,
        lambda i: call("GET", "/api/v1/partners/whoami"),
    )
    bodies = [payment_body(job, f"PROFILE-{i}") for i, job in enumerate(jobs)]
    half = min(count, len(bodies) // 2)
    statuses: list[int] = []
    results["payment_ms"] = timed(
        "POST payment (new)", half, lambda i: statuses.append(call("POST", PAY_PATH, bodies[i])[0])
    )
    results["replay_ms"] = timed(
        "POST payment (sent again)", half, lambda i: call("POST", PAY_PATH, bodies[i])
    )
    assert set(statuses) == {201}, statuses
    with CaptureQueriesContext(connection) as queries:
        code, _ = call("POST", PAY_PATH, bodies[half])
    assert code == 201
    results["queries_per_payment"] = len(queries.captured_queries)
    log(f"  queries for one payment: {len(queries.captured_queries)}")
    for q in queries.captured_queries:
        log("    " + re.sub(r"\s+", " ", str(q["sql"]))[:110])
    with CaptureQueriesContext(connection) as queries:
        call("POST", PAY_PATH, bodies[half])
    results["queries_per_replay"] = len(queries.captured_queries)
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(half + 1, min(2 * half, len(bodies))):
        call("POST", PAY_PATH, bodies[i])
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    log("\n".join(out.getvalue().splitlines()[:40]))
    print(json.dumps(results))


# --- load from client processes -------------------------------------------------------------------


def open_bills(limit: int, last: bool = False) -> list[tuple[str, str]]:
    """(number to pay by, open amount) for accounts with an open bill; every tenth by its legacy
    number where it has one."""
    import psycopg

    order = "DESC" if last else "ASC"
    with psycopg.connect(f"{SERVER_URL}/{RUN_DB}") as conn:
        rows = conn.execute(
            f"""
            SELECT a.id, a.number, l.number, e.amount
            FROM accounts_account a
            JOIN accounts_ledgerentry e ON e.account_id = a.id AND e.source_id LIKE 'HD-202506-%%'
            LEFT JOIN accounts_legacyaccountnumber l ON l.account_id = a.id
            ORDER BY a.id {order} LIMIT %s
            """,
            [limit],
        ).fetchall()
    return [
        ((legacy if legacy and account_id % 10 == 0 else number), str(int(amount)))
        for account_id, number, legacy, amount in rows
    ]


def payment_body(job: tuple[str, str], transaction_id: str) -> bytes:
    number, amount = job
    return json.dumps(
        {
            "transaction_id": transaction_id,
            "account_number": number,
            "amount": amount,
            "currency": "VND",
        },
        separators=(",", ":"),
    ).encode()


class Connection:
    """A keep-alive HTTP/1.1 connection that signs each request (what a bank's client does)."""

    def __init__(self, port: int, key_id: str, secret: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.key_id = key_id
        self.secret = secret.encode()

    def post(self, path: str, body: bytes, not_at: int = 0) -> tuple[int, bytes, int]:
        """Sign and send; ``not_at`` is the stamp of the first send of a retried request (the
        same bytes signed at the same second would be a replay, refused by the signature
        check)."""
        stamp = int(time.time())
        if stamp == not_at:
            stamp += 1
        digest = hashlib.sha256(body).hexdigest()
        signature = hmac.new(
            self.secret, f"POST\n{path}\n{stamp}\n{digest}".encode(), hashlib.sha256
        ).hexdigest()
        request = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Ampere-Key: {self.key_id}\r\n"
            f"X-Ampere-Timestamp: {stamp}\r\nX-Ampere-Signature: {signature}\r\n\r\n"
        ).encode() + body
        self.sock.sendall(request)
        status, answer = self._response()
        return status, answer, stamp

    def get(self, path: str) -> tuple[int, bytes, int]:
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        status, answer = self._response()
        return status, answer, 0

    def _response(self) -> tuple[int, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, body

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buffer += data


def client_process(
    port: int,
    key_id: str,
    secret: str,
    jobs: list[tuple[str, bytes, bool]],
    connections: int,
    start_at: float,
    deadline: float,
    results: Any,
) -> None:
    """One client process: ``connections`` threads, each with its own keep-alive connection,
    sending its share of the jobs back to back until the deadline."""
    out: list[tuple[str, int, float, bool]] = []  # (kind, status, latency s, answer right)
    lock = threading.Lock()

    def run(share: list[tuple[str, bytes, bool]]) -> None:
        conn = Connection(port, key_id, secret)
        local: list[tuple[str, int, float, bool]] = []
        while time.time() < start_at:
            time.sleep(0.001)
        for transaction_id, body, twice in share:
            if time.time() >= deadline:
                break
            stamp = 0
            receipt = ""
            for kind in ("first", "again") if twice else ("first",):
                began = time.perf_counter()
                if body:
                    status, answer, stamp = conn.post(PAY_PATH, body, not_at=stamp)
                else:  # the web stack alone: GET /healthz (middleware, one SELECT 1)
                    status, answer, stamp = conn.get("/healthz")
                took = time.perf_counter() - began
                # Every answer is checked: the first send posts (201) this payment, a second
                # send returns the same receipt marked as replayed (200).
                right = status == 200
                if body:
                    try:
                        got = json.loads(answer)
                    except ValueError:
                        got = {}
                    sent = json.loads(body)
                    right = (
                        got.get("transaction_id") == transaction_id
                        and got.get("amount") == sent["amount"]
                        and got.get("currency") == sent["currency"]
                        and got.get("status") == "posted"
                        and (
                            (status, got.get("replayed")) == (201, False)
                            if kind == "first"
                            else (status, got.get("replayed"), got.get("receipt_number"))
                            == (200, True, receipt)
                        )
                    )
                    receipt = got.get("receipt_number", "")
                local.append((kind, status, took, right))
        with lock:
            out.extend(local)

    threads = [
        threading.Thread(target=run, args=(jobs[i::connections],)) for i in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times = os.times()
    results.put((out, times.user + times.system))


def wait_for_server(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    started = time.time()
    while time.time() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                if b" 200 " in sock.recv(4096):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not answer /healthz")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _ticks(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _postgres_pids() -> tuple[list[int], list[int]]:
    """The backends of the run database, and the server's background processes (WAL writer,
    checkpointer ...: they work for every database on the server). Other databases' backends,
    e.g. other test runs on the machine, count as other processes."""
    with admin() as conn:
        rows = conn.execute(
            "SELECT pid, backend_type = 'client backend' FROM pg_stat_activity "
            "WHERE datname = %s OR backend_type <> 'client backend'",
            [RUN_DB],
        ).fetchall()
    return [int(p) for p, client in rows if client], [int(p) for p, client in rows if not client]


def cpu_snapshot(server_pid: int, postgres: tuple[list[int], list[int]]) -> dict[str, float]:
    """CPU seconds used so far by the server's processes, by PostgreSQL (its backends for the
    run database, its background processes), and by the machine."""
    busy = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = int(busy[3]) + int(busy[4])
    return {
        "server": sum(_ticks(pid) for pid in _tree(server_pid)),
        "postgres": sum(_ticks(pid) for pid in postgres[0] + postgres[1]),
        "postgres_backends": sum(_ticks(pid) for pid in postgres[0]),
        "machine": (sum(int(x) for x in busy[:8]) - idle) / ticks,
    }


def database_stats() -> tuple[int, int, int]:
    """Commits and rows inserted in the run database; WAL bytes written by the whole server
    (other databases' writes count too)."""
    with admin() as conn:
        row = conn.execute(
            "SELECT xact_commit, tup_inserted, pg_current_wal_lsn() - '0/0'::pg_lsn "
            "FROM pg_stat_database WHERE datname = %s",
            [RUN_DB],
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def load(args: argparse.Namespace) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(f"{SERVER_URL}/{RUN_DB}") as conn:
        meta: dict[str, str] = dict(conn.execute("SELECT name, value FROM bench_meta").fetchall())
    bills = open_bills(limit=args.accounts - PROFILE_ACCOUNTS)
    rng = random.Random(1)
    rng.shuffle(bills)
    jobs = [
        (f"BENCH-{i}", payment_body(job, f"BENCH-{i}"), rng.random() < 0.10)
        for i, job in enumerate(bills)
    ]
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "ampere"),
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            *(["--production"] if args.production else []),
        ],
        env=django_env(RUN_DB),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_server(port, server)
        # Warm every worker and thread (imports, connections, key and channel caches).
        warm, jobs = jobs[: args.connections * 8], jobs[args.connections * 8 :]
        run_clients(port, meta, warm, args, seconds=30)
        time.sleep(1)
        commits0, inserted0, wal0 = database_stats()
        postgres = _postgres_pids()  # the server's connections are open after the warm-up
        cpu0 = cpu_snapshot(server.pid, postgres)
        started = time.time()
        samples, client_cpu = run_clients(port, meta, jobs, args, seconds=args.seconds)
        elapsed = time.time() - started
        cpu1 = cpu_snapshot(server.pid, postgres)
        time.sleep(0.6)  # pg_stat_database is reported by backends every 500 ms
        commits1, inserted1, wal1 = database_stats()
        floor_seconds = max(2.0, args.seconds / 4)
        pings, _ = run_clients(
            port, meta, [("", b"", False)] * 200_000, args, seconds=floor_seconds
        )
        healthz_rate = sum(1 for p in pings if p[1] == 200) / floor_seconds
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    firsts = [s for s in samples if s[0] == "first"]
    again = [s for s in samples if s[0] == "again"]
    posted = sum(1 for s in firsts if s[1] == 201)
    latencies = [s[2] * 1000 for s in samples]
    with psycopg.connect(f"{SERVER_URL}/{RUN_DB}") as conn:
        stored = conn.execute(
            "SELECT count(*), count(DISTINCT external_reference) FROM payments_payment "
            "WHERE external_reference LIKE 'BENCH-%%'"
        ).fetchone()
        entries = conn.execute(
            "SELECT count(*), count(DISTINCT description) FROM accounts_ledgerentry "
            "WHERE kind = 'payment' AND description LIKE 'Bench Bank BENCH-%%'"
        ).fetchone()
    assert stored is not None and entries is not None
    warm_posted = len(warm)
    requests = max(1, len(samples))
    used = {k: cpu1[k] - cpu0[k] for k in cpu0}
    others = used["machine"] - used["server"] - used["postgres"] - client_cpu
    background = used["postgres"] - used["postgres_backends"]
    log(
        f"  cpu per request: server {used['server'] / requests * 1000:.2f} ms, postgres "
        f"{used['postgres'] / requests * 1000:.2f} ms (backends "
        f"{used['postgres_backends'] / requests * 1000:.2f} ms), clients "
        f"{client_cpu / requests * 1000:.2f} ms, everything else on the machine "
        f"{others / requests * 1000:.2f} ms; machine busy "
        f"{used['machine'] / elapsed / (os.cpu_count() or 1):.0%}"
    )
    log(f"  stored {stored}, ledger payments {entries}, posted {posted} + warm-up {warm_posted}")
    return {
        "payments_per_second": round(posted / elapsed, 1),
        "requests_per_second": round(len(samples) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "p50_ms_first_sends": round(statistics.median([s[2] * 1000 for s in firsts]), 2),
        "p99_ms_first_sends": round(percentile([s[2] * 1000 for s in firsts], 0.99), 2),
        "payments": posted,
        "sent_twice": len(again),
        "second_sends_replayed": sum(1 for s in again if s[1] == 200 and s[3]),
        "answers_verified": sum(1 for s in samples if s[3]),
        "wrong_answers": sum(1 for s in samples if not s[3]),
        "refused_or_failed": sum(1 for s in samples if s[1] not in (200, 201)),
        "stored_payments_match": stored[0]
        == stored[1]
        == posted + warm_posted
        == entries[0]
        == entries[1],
        "commits_per_payment": round((commits1 - commits0) / max(1, len(samples)), 2),
        "rows_inserted_per_payment": round((inserted1 - inserted0) / max(1, posted), 2),
        "wal_bytes_per_payment": round((wal1 - wal0) / max(1, posted)),
        "seconds": round(elapsed, 2),
        "healthz_requests_per_second": round(healthz_rate, 1),
        "cpu_ms_per_request_server": round(used["server"] / requests * 1000, 3),
        "cpu_ms_per_request_postgres": round(used["postgres"] / requests * 1000, 3),
        "cpu_ms_per_request_postgres_backends": round(
            used["postgres_backends"] / requests * 1000, 3
        ),
        "cpu_ms_per_request_postgres_background": round(background / requests * 1000, 3),
        "cpu_ms_per_request_clients": round(client_cpu / requests * 1000, 3),
        "cpu_ms_per_request_other_processes": round(others / requests * 1000, 3),
    }


def run_clients(
    port: int, meta: dict[str, str], jobs: list[Any], args: argparse.Namespace, seconds: float
) -> tuple[list[tuple[str, int, float, bool]], float]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + 1.5  # the processes start, then go together
    deadline = start_at + seconds
    processes = [
        context.Process(
            target=client_process,
            args=(
                port,
                meta["key_id"],
                meta["secret"],
                jobs[i :: args.clients],
                args.connections // args.clients,
                start_at,
                deadline,
                results,
            ),
        )
        for i in range(args.clients)
    ]
    for process in processes:
        process.start()
    samples: list[tuple[str, int, float, bool]] = []
    cpu = 0.0
    for _ in processes:
        out, used = results.get(timeout=seconds + 120)
        samples.extend(out)
        cpu += used
    for process in processes:
        process.join()
    return samples, cpu


# --- pgbench -----------------------------------------------------------------------------------


def pgbench(clients: int, seconds: int) -> float:
    binary = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PGBENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PGBENCH_DB}"')
    import psycopg

    with psycopg.connect(f"{SERVER_URL}/{PGBENCH_DB}", autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE ledger (id bigserial PRIMARY KEY, account_id int NOT NULL, "
            "amount numeric(18, 2) NOT NULL, at timestamptz NOT NULL)"
        )
    script = ROOT / "var" / "bench_payments_pgbench.sql"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(
        "\\set account random(1, 1000000)\n"
        "INSERT INTO ledger (account_id, amount, at) VALUES (:account, -250000, now());\n"
    )
    host = SERVER_URL.split("@")[-1].split(":")[0]
    port = SERVER_URL.rsplit(":", 1)[-1]
    user = SERVER_URL.split("//")[1].split("@")[0]
    out = subprocess.run(
        [
            binary,
            "-h",
            host,
            "-p",
            port,
            "-U",
            user,
            "-n",
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(seconds),
            "-f",
            str(script),
            PGBENCH_DB,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"tps = ([0-9.]+)", out)
    assert match is not None, out
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PGBENCH_DB}" WITH (FORCE)')
    return float(match.group(1))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_build":
        build(int(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_profile":
        profile(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run on fewer accounts")
    parser.add_argument("--accounts", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--connections", type=int, default=16, help="connections in all")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--threads", type=int, default=4, help="WSGI threads per worker")
    parser.add_argument(
        "--no-production",
        dest="production",
        action="store_false",
        help="serve without `ampere serve --production` (the runtime tuned for throughput)",
    )
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--commit-delay",
        type=int,
        default=200,
        help="group commit for the run database, as Ampere's embedded server is tuned: "
        "commit_delay in microseconds (0: the server's own setting), commit_siblings 2",
    )
    args = parser.parse_args()
    args.accounts = args.accounts or (20_000 if args.quick else 100_000)
    args.seconds = args.seconds or (4.0 if args.quick else 20.0)
    args.connections = max(args.connections, args.clients)
    ensure_template(args.accounts)
    fresh_run_database(args.commit_delay)
    profiled: dict[str, Any] = {}
    if not args.no_profile:
        log("in-process cost of the posting path (no network, one thread):")
        out = subprocess.run(
            [sys.executable, __file__, "_profile", "100" if args.quick else "150"],
            env=django_env(RUN_DB),
            cwd=ROOT,
            check=False,
            capture_output=True,
            text=True,
        )
        log("\n".join(line for line in out.stderr.splitlines() if "Unauthorized" not in line))
        out.check_returncode()
        profiled = json.loads(out.stdout.strip().splitlines()[-1])
    log(
        f"load: {args.clients} client processes, {args.connections} connections, "
        f"server {args.workers} workers x {args.threads} threads"
        f"{' (production runtime)' if args.production else ''}, {args.seconds:.0f} s ..."
    )
    result = load(args)
    ceiling = pgbench(args.connections, max(3, int(args.seconds)))
    summary = {
        **result,
        "pgbench_single_row_tps": round(ceiling, 1),
        "share_of_pgbench": round(result["payments_per_second"] / ceiling, 3),
        **{f"inprocess_{k}" if k.endswith("_ms") else k: v for k, v in profiled.items()},
        "accounts": args.accounts,
        "client_processes": args.clients,
        "connections": args.connections,
        "server_workers": args.workers,
        "server_threads": args.threads,
        "server_production_runtime": args.production,
        "commit_delay_us": args.commit_delay,
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    log(
        f"{summary['payments_per_second']} payments/s (p50 {summary['p50_ms']} ms, "
        f"p99 {summary['p99_ms']} ms); pgbench single-row inserts: "
        f"{summary['pgbench_single_row_tps']} tps"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
