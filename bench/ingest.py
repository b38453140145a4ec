"""Ingest throughput: the device API over real HTTP versus bare SQLAlchemy Core inserts of the same rows.

The API side is the real `fieldapp serve` process (werkzeug, or gunicorn with two worker processes) fed by
1 or 4 concurrent clients; the raw side inserts the same ~2 KB rows on one connection. Both use a fresh
database of the same kind with the same settings (SQLite: WAL, synchronous=FULL) and commit once per batch
of 100. Rounds alternate API and raw; medians are printed.

    python bench/ingest.py [--reports 3000] [--rounds 5] [--clients 1 4] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from fieldapp import create_app, crypto  # noqa: E402
from fieldapp.config import Config  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.models import OrgKey, Report, today  # noqa: E402
from fieldapp.services import enrollment, teams  # noqa: E402

BATCH = 100
WARMUP_BATCHES = 8


def sealed_envelopes(pub: bytes, count: int) -> list[dict]:
    """~2 KB envelopes: a document with 1.4 KB of incompressible notes."""
    envelopes = []
    for _ in range(count):
        notes = base64.b64encode(os.urandom(1050)).decode()
        doc = {"form": "trafficking-report", "form_version": 1, "answers": {"notes": notes}}
        envelopes.append(crypto.seal_document(doc, pub, str(uuid.uuid4())))
    return envelopes


def fresh_database(kind: str, workdir: Path, pg_url: str | None, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / (name + '.db')}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return pg_url.rsplit("/", 1)[0] + "/" + name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_api(
    url: str,
    workdir: Path,
    count: int,
    clients: int,
    server_args: list[str],
    given: tuple[bytes, list[dict]] | None = None,
) -> tuple[float, int]:
    """Serve with the real `fieldapp serve` process (as `make run` does) and sync from other threads;
    `given`: (the key's public point, envelopes sealed to it) to send instead of fresh ones."""
    instance = workdir / "instance"
    instance.mkdir(exist_ok=True)
    app = create_app(Config(secret_key="b" * 40, database_url=url, instance_path=instance))
    with app.app_context():
        db.create_all()
        pub = given[0] if given else crypto.public_raw(crypto.generate_private_key())
        db.session.add(OrgKey(kid=crypto.kid_for(pub), public_key=pub, current=True))
        code = enrollment.issue_code(db.session, teams.create_team(db.session, "bench"), uses=1)
        db.session.commit()
        db.engine.dispose()
    envelopes = given[1] if given else sealed_envelopes(pub, count + WARMUP_BATCHES * BATCH)
    bodies = [json.dumps({"reports": envelopes[i : i + BATCH]}).encode() for i in range(0, len(envelopes), BATCH)]
    warmup, bodies = bodies[:WARMUP_BATCHES], bodies[WARMUP_BATCHES:]
    port = _free_port()
    env = {
        **os.environ,
        "FIELDAPP_DATABASE_URL": url,
        "FIELDAPP_INSTANCE": str(instance),
        "FIELDAPP_ENV": "development",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "fieldapp", "serve", "--port", str(port), *server_args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)

        def call(method: str, path: str, body: bytes, headers: dict) -> dict:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.request(method, path, body, headers)
            answer = conn.getresponse()
            data = json.loads(answer.read())
            conn.close()
            assert answer.status in (200, 201), data
            return data

        def post_prepared(request: bytes) -> int:
            """One prepared request over a plain socket: the client stays light, as a phone is not on this CPU."""
            with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
                sock.sendall(request)
                answer = b""
                while b"\r\n\r\n" not in answer:
                    answer += sock.recv(65536)
                head, _, payload = answer.partition(b"\r\n\r\n")
                length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
                while len(payload) < length:  # stop at the answer's end, not at the server's close
                    payload += sock.recv(65536)
            assert head.startswith(b"HTTP/1.1 200"), head[:200]
            return payload.count(b'"stored"')

        enrolled = call(
            "POST", "/api/v1/enroll", json.dumps({"code": code}).encode(), {"Content-Type": "application/json"}
        )
        prepared = [
            (
                f"POST /api/v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Authorization: Bearer {enrolled['device_token']}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
            for body in warmup + bodies
        ]
        warmup, bodies = prepared[: len(warmup)], prepared[len(warmup) :]
        # Untimed: every worker process compiles its statements and opens its connections once.
        warm = [threading.Thread(target=post_prepared, args=(request,)) for request in warmup]
        for t in warm:
            t.start()
        for t in warm:
            t.join()
        stored = [0] * clients

        def sync(worker: int) -> None:
            for request in bodies[worker::clients]:
                stored[worker] += post_prepared(request)

        threads = [threading.Thread(target=sync, args=(w,)) for w in range(clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=10)
    return elapsed, sum(stored)


def run_raw(url: str, count: int) -> tuple[float, int]:
    """The floor: the same rows, already built, inserted with SQLAlchemy Core, one commit per batch."""
    engine = create_engine(url)
    db.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO teams (id, name, created_on) VALUES (1, 'bench', :d)"), {"d": today()})
    pub = crypto.public_raw(crypto.generate_private_key())
    rows = []
    for envelope in sealed_envelopes(pub, count + BATCH):
        envelope_text = json.dumps(envelope, separators=(",", ":"))
        rows.append(
            {
                "rid": envelope["rid"],
                "team_id": 1,
                "kid": envelope["kid"],
                "envelope": envelope_text,
                "envelope_sha256": hashlib.sha256(envelope_text.encode()).hexdigest(),
                "size": len(envelope_text),
                "received_on": today(),
            }
        )
    warmup, rows = rows[:BATCH], rows[BATCH:]
    with engine.begin() as conn:  # untimed, like the API's warm-up
        conn.execute(insert(Report.__table__), warmup)
    start = time.perf_counter()
    for i in range(0, count, BATCH):
        with engine.begin() as conn:
            conn.execute(insert(Report.__table__), rows[i : i + BATCH])
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed, count


SERVERS = {
    # `fieldapp serve` as shipped: gunicorn, 2 worker processes of 4 threads (an export holds only one).
    "gunicorn-2w-4t": ["--server", "gunicorn", "--workers", "2", "--threads", "4"],
    # One thread per process: the fastest raw ingest, but a long export blocks its process's batches.
    "gunicorn-2w": ["--server", "gunicorn", "--workers", "2", "--threads", "1"],
    # For a server with no buffering proxy in front: slow uploads hold a thread, not a process.
    "gunicorn-2w-8t": ["--server", "gunicorn", "--workers", "2", "--threads", "8"],
    # The fallback where gunicorn does not run (Windows): one process.
    "werkzeug": ["--server", "werkzeug"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4], help="phones syncing at once")
    parser.add_argument("--servers", nargs="+", default=list(SERVERS), choices=list(SERVERS))
    parser.add_argument("--postgres-url", default=os.environ.get("FIELDAPP_TEST_DATABASE_URL"))
    args = parser.parse_args()
    kinds = ["sqlite"] + (["postgresql"] if args.postgres_url else [])
    print(f"{args.reports} reports of ~2 KB, batches of {BATCH}, median of {args.rounds} rounds (API, raw alternating)")
    for kind in kinds:
        for server in args.servers:
            for clients in args.clients:
                api_rates, raw_rates, ratios = [], [], []
                for round_no in range(args.rounds):
                    with tempfile.TemporaryDirectory() as tmp:
                        work = Path(tmp)
                        api_url = fresh_database(kind, work, args.postgres_url, f"bench_api_{round_no}")
                        raw_url = fresh_database(kind, work, args.postgres_url, f"bench_raw_{round_no}")
                        api_s, api_n = run_api(api_url, work, args.reports, clients, SERVERS[server])
                        raw_s, raw_n = run_raw(raw_url, args.reports)
                    assert api_n == raw_n == args.reports, (api_n, raw_n)
                    api_rates.append(args.reports / api_s)
                    raw_rates.append(args.reports / raw_s)
                    ratios.append(raw_s / api_s)
                print(
                    f"{kind:10s} {server:12s} clients={clients}  api={statistics.median(api_rates):7.0f} reports/s  "
                    f"raw_insert={statistics.median(raw_rates):7.0f} reports/s  "
                    f"ratio(api/raw)={statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})"
                    "  target>=0.50"
                )


if __name__ == "__main__":
    main()
