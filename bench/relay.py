"""A base relaying to HQ (PROTOCOL.md §11): the base's forwarding of what its phones sent, against a phone's own
sync of the same reports and chunks straight to HQ.

    python bench/relay.py [--reports 3000] [--attachments 20] [--rounds 3]

Each round, two fresh HQs run the real `fieldapp serve` (gunicorn, SQLite), side by side:
1. a phone (one client, batches of 100 envelopes as the phone sends them, then each attachment's chunks one PUT
   at a time) sends the reports to the first HQ;
2. a base (its own SQLite database, holding the same reports and chunks, stored untimed as its phones would
   have left them) makes one forwarding pass to the second HQ: `forwarding.forward`, what `fieldapp relay run`
   runs, with its bootstrap, batches, HQ's attachment status and chunk PUTs, and its marks at the base.
Printed: seconds each, and forwarding ÷ phone: what relaying costs over the phone's own sync (the issue sets no
target; the base's extra is its own durable bookkeeping, a write per batch and per attachment, and HQ's status
asked once per attachment so that a resumed transfer resends nothing HQ holds). Rounds alternate the order;
medians are printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest import BATCH, sealed_envelopes  # noqa: E402

from fieldapp import create_app, crypto  # noqa: E402
from fieldapp.config import Config  # noqa: E402
from fieldapp.database import writing  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.models import OrgKey  # noqa: E402
from fieldapp.services import attachments, enrollment, forwarding, relays, reports, teams  # noqa: E402
from tests.served import Served  # noqa: E402

TEAM = "bench"


def with_attachments(pub: bytes, count: int) -> list[tuple[dict, list[bytes]]]:
    """`count` reports with one 300 KB v2 recording each (5 chunks), its chunks sealed."""
    made = []
    for n in range(count):
        aid = str(uuid.uuid4())
        chunks = crypto.seal_chunks(bytes(32), aid, bytes([n % 251]) * 300_000, 2)
        envelope = crypto.seal_document(
            {"form": "trafficking-report", "form_version": 1, "answers": {}},
            pub,
            att=[{"aid": aid, "chunks": len(chunks)}],
            v=2,
        )
        made.append((envelope, chunks))
    return made


def fresh_hq(workdir: Path, pub: bytes) -> tuple[Served, str, str]:
    """A served HQ holding the key's public half and the team: (server, a phone's code, a base's code)."""
    served = Served(workdir)
    served.command("db", "upgrade")
    instance = workdir / "instance"
    app = create_app(
        Config(secret_key="b" * 40, database_url=f"sqlite:///{instance / 'fieldapp.db'}", instance_path=instance)
    )
    with app.app_context():
        db.session.add(OrgKey(kid=crypto.kid_for(pub), public_key=pub, current=True))
        code = enrollment.issue_code(db.session, teams.create_team(db.session, TEAM))
        _, relay_code = relays.add_relay(db.session, "base")
        db.session.commit()
        db.engine.dispose()
    served.start()
    return served, code, relay_code


def phone_sync(served: Served, code: str, plain: list[dict], media: list[tuple[dict, list[bytes]]]) -> float:
    from tests.served import Phone

    phone = Phone(served, code)
    envelopes = plain + [envelope for envelope, _ in media]
    start = time.perf_counter()
    for i in range(0, len(envelopes), BATCH):
        status, results, _ = phone.send(envelopes[i : i + BATCH])
        assert status == 200 and set(results.values()) == {"stored"}, status
    for envelope, chunks in media:
        aid = envelope["att"][0]["aid"]
        for index, chunk in enumerate(chunks):
            conn = served.connection()
            headers = {"Authorization": f"Bearer {phone.token}", "Content-Type": "application/octet-stream"}
            conn.request("PUT", f"/api/v1/attachments/{aid}/chunks/{index}", chunk, headers)
            assert conn.getresponse().status == 204
            conn.close()
    return time.perf_counter() - start


def base_forwarding(workdir: Path, served: Served, relay_code: str, pub: bytes, plain: list[dict], media) -> float:  # type: ignore[no-untyped-def]
    instance = workdir / "instance"
    instance.mkdir(parents=True)
    config = Config(secret_key="b" * 40, database_url=f"sqlite:///{workdir / 'base.db'}", instance_path=instance)
    app = create_app(config)
    with app.app_context():
        db.create_all()
        db.session.add(OrgKey(kid=crypto.kid_for(pub), public_key=pub, current=True))
        team = teams.create_team(db.session, TEAM)
        db.session.commit()
        envelopes = plain + [envelope for envelope, _ in media]
        known = {crypto.kid_for(pub)}
        for i in range(0, len(envelopes), BATCH):  # as the base's phones left them: untimed
            checked = reports.check_batch(
                envelopes[i : i + BATCH], known, config.max_ct_bytes, config.attachment_limits
            )
            with writing(db.session):
                reports.store_reports(db.session, team.id, checked)
        store = attachments.DatabaseChunkStore(db.session)
        for envelope, chunks in media:
            with writing(db.session):
                for index, chunk in enumerate(chunks):
                    attachments.store_chunk(db.session, store, envelope["att"][0]["aid"], team.id, index, chunk)
        forwarding.join(db.session, f"http://127.0.0.1:{served.port}", relay_code, None)
        db.session.remove()
        start = time.perf_counter()
        done = forwarding.forward(db.session)
        elapsed = time.perf_counter() - start
        assert done.confirmed == len(envelopes) and done.chunks == sum(len(c) for _, c in media), done
        db.session.remove()
        db.engine.dispose()
    return elapsed


def one_round(root: Path, pub: bytes, plain: list[dict], media, relay_first: bool) -> dict[str, float]:  # type: ignore[no-untyped-def]
    hq_phone, code, _ = fresh_hq(root / "hq-phone", pub)
    hq_relay, _, relay_code = fresh_hq(root / "hq-relay", pub)
    seconds: dict[str, float] = {}
    try:
        for side in ("relay", "phone") if relay_first else ("phone", "relay"):
            if side == "phone":
                seconds[side] = phone_sync(hq_phone, code, plain, media)
            else:
                seconds[side] = base_forwarding(root / "base", hq_relay, relay_code, pub, plain, media)
    finally:
        hq_phone.stop()
        hq_relay.stop()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=3000)
    parser.add_argument("--attachments", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pub = crypto.public_raw(crypto.generate_private_key())
    plain, media = sealed_envelopes(pub, args.reports), with_attachments(pub, args.attachments)
    chunk_count = sum(len(c) for _, c in media)
    print(f"{len(plain)} reports of ~2 KB and {len(media)} with a 300 KB recording ({chunk_count} chunks of 64 KiB)")
    phone_times, relay_times = [], []
    for round_number in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="fieldapp-bench-relay-") as folder:
            seconds = one_round(Path(folder), pub, plain, media, relay_first=round_number % 2 == 1)
            phone_times.append(seconds["phone"])
            relay_times.append(seconds["relay"])
            print(f"round {round_number + 1}: phone {seconds['phone']:6.2f} s, relay {seconds['relay']:6.2f} s")
    phone, relay = statistics.median(phone_times), statistics.median(relay_times)
    print(f"phone's sync       {phone:6.2f} s  ({(len(plain) + len(media)) / phone:7.0f} reports/s)")
    print(f"relay's forwarding {relay:6.2f} s  ({(len(plain) + len(media)) / relay:7.0f} reports/s)")
    print(f"forwarding / phone: {relay / phone:.2f}")
    print(json.dumps({"phone_s": round(phone, 3), "relay_s": round(relay, 3), "ratio": round(relay / phone, 3)}))


if __name__ == "__main__":
    main()
