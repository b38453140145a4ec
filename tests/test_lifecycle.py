"""Day two, operated for real: set up, restart, enrol, sync beside a long export and the statistics, kill -9.

Each step runs the shipped command (`fieldapp serve`: gunicorn, two worker processes) on a fresh instance,
on SQLite and on PostgreSQL. A server that held SQLite's write lock after its first restart answered every
write with 503 while the rest of the suite was green: this is the test that would have said so.
"""

from __future__ import annotations

import csv
import io
import signal
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from fieldapp.models import Report

from .conftest import BACKENDS, KEY_PASSPHRASE, LOGIN_PASSPHRASE, drop_postgres_database, fresh_postgres_database
from .served import Person, Phone, Served

SEEDED = 10_000
PER_PHONE = 200


def _batches(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield None, f"sqlite:///{tmp_path / 'instance' / 'fieldapp.db'}"
        return
    url = fresh_postgres_database()
    yield url, url
    drop_postgres_database(url)


def _stored_rids(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.scalars(select(Report.rid)))
    finally:
        engine.dispose()


def _count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(Report)) or 0
    finally:
        engine.dispose()


@pytest.mark.slow
def test_restart_sync_beside_export_and_statistics_then_kill(tmp_path: Path, database) -> None:  # type: ignore[no-untyped-def]
    served_url, url = database
    served = Served(tmp_path, served_url)
    served.command("db", "upgrade")

    # Day one: first-run setup through the link the server prints, then an ordinary stop.
    served.start()
    person = Person(served)
    person.set_up(served.setup_link(), "ana", LOGIN_PASSPHRASE, KEY_PASSPHRASE)
    served.stop(signal.SIGTERM)

    # Day two: the same command again; every kind of write must go through.
    served.start()
    served.command("teams", "create", "Madre de Dios")
    codes = [served.command("devices", "code", "--team", "Madre de Dios").strip().splitlines()[-1] for _ in range(3)]
    base, phone_a, phone_b = (Phone(served, code) for code in codes)
    for batch in _batches(base.seal(SEEDED), 100):
        status, results, _ = base.send(batch)
        assert status == 200 and set(results.values()) == {"stored"}
    person.log_in("ana", LOGIN_PASSPHRASE)
    person.unlock(KEY_PASSPHRASE)

    export = person.stream("/dashboard/export?format=csv")
    received = [next(export)]  # the stream has begun: its read is open while the phones sync
    outcomes: dict[str, list] = {"a": [], "b": []}

    def sync(name: str, phone: Phone) -> None:
        for batch in _batches(phone.seal(PER_PHONE), 20):
            outcomes[name].append(phone.send(batch))

    phones = [threading.Thread(target=sync, args=item) for item in (("a", phone_a), ("b", phone_b))]
    for thread in phones:
        thread.start()
    status, page = person.request("GET", "/dashboard/stats")
    assert status == 200 and b"<svg" in page
    while any(thread.is_alive() for thread in phones):
        received.append(next(export))  # a supervisor's download, read slowly
        time.sleep(0.01)
    for thread in phones:
        thread.join()
    received.extend(export)

    for name, sent in outcomes.items():
        assert [status for status, _, _ in sent] == [200] * (PER_PHONE // 20), name  # no 503, no timeout
        assert all(set(results.values()) == {"stored"} for _, results, _ in sent), name
    rows = list(csv.DictReader(io.StringIO(b"".join(received).decode("utf-8-sig"))))
    assert len(rows) == SEEDED  # the export is the snapshot it began with, complete
    assert len({row["rid"] for row in rows}) == SEEDED

    # kill -9 while a phone sends batch after batch: what was acknowledged stays, the retry stores the rest once.
    pending = {envelope["rid"]: envelope for envelope in phone_a.seal(400)}
    acknowledged: set[str] = set()

    def send_until_killed() -> None:
        for batch in _batches(list(pending.values()), 20):
            try:
                status, results, _ = phone_a.send(batch)
            except OSError:
                return
            if status != 200:
                return
            acknowledged.update(rid for rid, outcome in results.items() if outcome in ("stored", "duplicate"))

    sender = threading.Thread(target=send_until_killed)
    sender.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 100 and sender.is_alive():
        assert time.monotonic() < deadline
        time.sleep(0.005)
    served.stop(signal.SIGKILL)
    sender.join()
    assert 100 <= len(acknowledged) < len(pending)  # the kill came in the middle of the phone's sending
    before_restart = set(_stored_rids(url))
    assert acknowledged <= before_restart  # acknowledged means committed

    served.start()
    retry = [envelope for rid, envelope in pending.items() if rid not in acknowledged]
    for batch in _batches(retry, 20):
        status, results, _ = phone_a.send(batch)
        assert status == 200
        assert all(outcome in ("stored", "duplicate") for outcome in results.values())
        # Only a report that reached the database before the kill may come back as a duplicate.
        assert {rid for rid, outcome in results.items() if outcome == "duplicate"} <= before_restart
    served.stop(signal.SIGTERM)

    stored = _stored_rids(url)
    assert len(stored) == len(set(stored)) == SEEDED + 2 * PER_PHONE + len(pending)
    assert set(pending) <= set(stored)
    assert _count(url) == len(stored)
