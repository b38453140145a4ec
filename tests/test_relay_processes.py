"""A base relaying to HQ, operated for real: two `fieldapp serve` processes on separate databases, a proxy between
them that answers 503, stalls and drops answers, and HQ killed with SIGKILL in the middle of a transfer. HQ ends
with every report the phone sent to the base exactly once, in its team, with its chunks."""

from __future__ import annotations

import re
import signal
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from fieldapp import crypto
from fieldapp.models import Attachment, AttachmentChunk, Report, Team

from .conftest import BACKENDS, KEY_PASSPHRASE, LOGIN_PASSPHRASE, drop_postgres_database, fresh_postgres_database
from .served import Person, Phone, Served

TEAM = "Madre de Dios 1"
REPORTS = 600


class Cutter:
    """A TCP proxy from the base to HQ, one connection per request, in the mode it is set to: "pass", "503"
    (answers itself, HQ sees nothing), "stall" (takes the request, never answers), "drop" (HQ does the work, its
    answer to a POST or PUT is thrown away), "slow" (passes after half a second)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.mode = "pass"
        self.seen: dict[str, int] = {}
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()
        for s in self.open:
            s.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.open.append(client)
            threading.Thread(target=self._serve, args=(client, self.mode), daemon=True).start()

    def _serve(self, client: socket.socket, mode: str) -> None:
        self.seen[mode] = self.seen.get(mode, 0) + 1
        try:
            if mode == "503":
                client.recv(65536)
                client.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            elif mode == "stall":
                time.sleep(30)
            else:
                if mode == "slow":
                    time.sleep(0.5)
                self._pipe(client, drop=mode == "drop")
        except OSError:
            pass
        finally:
            client.close()

    def _pipe(self, client: socket.socket, drop: bool) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=60)
        self.open.append(upstream)
        first = client.recv(65536)
        upstream.sendall(first)
        drop = drop and not first.startswith(b"GET ")  # what carries reports and chunks loses its answer

        def up() -> None:
            try:
                while data := client.recv(65536):
                    upstream.sendall(data)
            except OSError:
                pass

        threading.Thread(target=up, daemon=True).start()
        try:
            while data := upstream.recv(65536):
                if drop:
                    return  # HQ committed before it began to answer; the base never hears it
                client.sendall(data)
        finally:
            upstream.close()


def _engine_count(url: str, query) -> int:  # type: ignore[no-untyped-def]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(query) or 0
    finally:
        engine.dispose()


@pytest.fixture
def hq_database(tmp_path: Path):  # type: ignore[no-untyped-def]
    """HQ on PostgreSQL where the suite has it (the base is a laptop: SQLite), else SQLite too."""
    if "postgresql" not in BACKENDS:
        yield None, f"sqlite:///{tmp_path / 'hq' / 'instance' / 'fieldapp.db'}"
        return
    url = fresh_postgres_database()
    yield url, url
    drop_postgres_database(url)


def _wait(condition, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_a_base_relays_through_503s_stalls_lost_answers_and_a_killed_hq(tmp_path: Path, hq_database) -> None:
    hq_url, hq_read_url = hq_database
    hq = Served(tmp_path / "hq", hq_url)
    base = Served(tmp_path / "base")
    base.env.update({"FIELDAPP_RELAY_SECONDS": "1", "FIELDAPP_RELAY_TIMEOUT_SECONDS": "3"})
    base_db = f"sqlite:///{tmp_path / 'base' / 'instance' / 'fieldapp.db'}"
    for served in (hq, base):
        served.command("db", "upgrade")
    hq.start()
    Person(hq).set_up(hq.setup_link(), "ana", LOGIN_PASSPHRASE, KEY_PASSPHRASE)
    hq.command("teams", "create", TEAM)
    code = hq.command("relays", "add", "Base Huepetuhe").strip().splitlines()[-1]
    cutter = Cutter(hq.port)
    try:
        base.start()
        base.command("teams", "create", TEAM)
        cutter.mode = "503"
        with pytest.raises(AssertionError):  # HQ busy: the base cannot join yet, and says why
            base.command("relay", "join", f"http://127.0.0.1:{cutter.port}", "--code", code)
        cutter.mode = "pass"
        base.command("relay", "join", f"http://127.0.0.1:{cutter.port}", "--code", code)
        phone = Phone(base, base.command("devices", "code", "--team", TEAM).strip().splitlines()[-1])

        # HQ answers 503: the phone's reports wait at the base, and the base says what went wrong.
        cutter.mode = "503"
        envelopes = phone.seal(REPORTS, note="Huepetuhe")
        aid = str(uuid.uuid4())
        chunks = crypto.seal_chunks(bytes(32), aid, b"testimonio " * 20_000, 2)
        with_audio = crypto.seal_document(
            {"form": "trafficking-report", "form_version": 1, "answers": {}},
            phone.pub,
            att=[{"aid": aid, "chunks": len(chunks)}],
            v=2,
        )
        envelopes.append(with_audio)
        for start in range(0, len(envelopes), 100):
            status, results, _ = phone.send(envelopes[start : start + 100])
            assert status == 200 and set(results.values()) == {"stored"}
        for i, chunk in enumerate(chunks):
            conn = base.connection()
            conn.request(
                "PUT",
                f"/api/v1/attachments/{aid}/chunks/{i}",
                chunk,
                {"Authorization": f"Bearer {phone.token}", "Content-Type": "application/octet-stream"},
            )
            assert conn.getresponse().status == 204
            conn.close()
        _wait(lambda: cutter.seen.get("503", 0) >= 4, 30, "the base never tried HQ")
        assert _engine_count(hq_read_url, select(func.count()).select_from(Report)) == 0
        status_text = base.command("relay", "status")
        assert "503" in status_text and re.search(rf"{REPORTS + 1}\b", status_text), status_text

        # A stalled answer is given up on; lost answers leave HQ holding what the base does not know it has.
        cutter.mode = "stall"
        _wait(lambda: cutter.seen.get("stall", 0) >= 2, 30, "no pass met the stall")
        cutter.mode = "drop"
        _wait(
            lambda: _engine_count(hq_read_url, select(func.count()).select_from(Report)) >= 100,
            60,
            "HQ never got a batch through the dropping proxy",
        )

        # kill -9 of HQ while the base sends: then HQ comes back on the same port.
        cutter.mode = "slow"
        _wait(
            lambda: _engine_count(hq_read_url, select(func.count()).select_from(Report)) >= 200,
            60,
            "no transfer to interrupt",
        )
        hq.stop(signal.SIGKILL)
        assert _engine_count(hq_read_url, select(func.count()).select_from(Report)) < len(envelopes)
        cutter.mode = "pass"
        time.sleep(2)  # passes fail against a dead HQ meanwhile
        hq.start()

        def all_confirmed() -> bool:
            waiting_reports = _engine_count(
                base_db, select(func.count()).select_from(Report).where(Report.forwarded_on.is_(None))
            )
            waiting_chunks = _engine_count(
                base_db,
                select(func.count()).select_from(AttachmentChunk).where(AttachmentChunk.forwarded.is_(False)),
            )
            return waiting_reports == 0 and waiting_chunks == 0

        _wait(all_confirmed, 120, "the base still holds reports HQ has not confirmed")
    finally:
        cutter.close()
        base.stop()
        if hq.process is not None:
            hq.stop()

    sent = sorted(e["rid"] for e in envelopes)
    engine = create_engine(hq_read_url)
    try:
        with engine.connect() as conn:
            at_hq = list(conn.execute(select(Report.rid, Team.name).join(Team, Team.id == Report.team_id)))
            assert sorted(rid for rid, _ in at_hq) == sent  # every report, exactly once
            assert {team for _, team in at_hq} == {TEAM}
            received = conn.scalar(select(Attachment.received).where(Attachment.aid == aid))
            assert received == len(chunks)
    finally:
        engine.dispose()
