"""Attachments as PROTOCOL.md §4–5 fix them: the chunk format against the known-answer vectors, and the two
device calls that take and report chunks, with every way a hostile upload is refused and nothing stored."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from fieldapp import crypto
from fieldapp.extensions import db
from fieldapp.models import Attachment, AttachmentChunk
from fieldapp.services import enrollment, teams

from .conftest import Org, table_counts
from .test_api import assert_problem
from .test_dashboard_reports import inbox_org, login, unlock  # noqa: F401  (fixture and helpers)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "envelope-v1.json").read_text("utf-8"))
FULL = crypto.CHUNK_SIZE + crypto.TAG_LEN
OCTETS = "application/octet-stream"


def plaintext_of(vector: dict) -> bytes:
    return b"\x01" * vector["plaintext_len"] if vector["plaintext_rule"] == "every byte 0x01" else b""


@pytest.mark.parametrize("vector", VECTORS["attachments"], ids=lambda v: v["plaintext_rule"])
def test_chunks_match_the_known_answer_vectors(vector: dict) -> None:
    key, aid, plain = crypto.b64u_decode(vector["key"]), vector["aid"], plaintext_of(vector)
    sealed = crypto.seal_chunks(key, aid, plain)
    assert [crypto.b64u_encode(c) for c in sealed] == vector["chunks"]
    opened = crypto.open_chunks(key, aid, [crypto.b64u_decode(c) for c in vector["chunks"]])
    assert opened == plain and crypto.b64u_encode(hashlib.sha256(opened).digest()) == vector["plaintext_sha256"]


def test_a_damaged_reordered_or_shortened_attachment_does_not_open() -> None:
    [vector] = [v for v in VECTORS["attachments"] if v["plaintext_len"]]
    key, aid = crypto.b64u_decode(vector["key"]), vector["aid"]
    chunks = [crypto.b64u_decode(c) for c in vector["chunks"]]
    flipped = bytearray(chunks[1])
    flipped[5] ^= 1
    for wrong in ([chunks[0], bytes(flipped)], [chunks[1], chunks[0]], [chunks[0]]):
        with pytest.raises(ValueError, match="failed authentication"):
            crypto.open_chunks(key, aid, wrong)
    with pytest.raises(ValueError):
        crypto.open_chunks(key, str(uuid.uuid4()), chunks)  # another attachment's chunks


# ---------------------------------------------------------------- the device API


def stored_report_with(org: Org, client, sizes: list[int]) -> list[tuple[str, list[bytes]]]:
    """A report declaring one attachment per size, stored; answers each (aid, sealed chunks)."""
    made = []
    for size in sizes:
        aid = str(uuid.uuid4())
        made.append((aid, crypto.seal_chunks(bytes(32), aid, bytes(range(256)) * (size // 256) + b"x" * (size % 256))))
    envelope = crypto.seal_document(
        {"form": "trafficking-report", "form_version": 1, "answers": {}},
        org.pub,
        att=[{"aid": aid, "chunks": len(chunks)} for aid, chunks in made],
    )
    answer = client.post("/api/v1/reports", json={"reports": [envelope]}, headers=org.headers)
    assert answer.json["results"][0]["status"] == "stored", answer.json
    return made


def put(client, org: Org, aid: str, index: int | str, body: bytes, **headers: str):
    return client.put(
        f"/api/v1/attachments/{aid}/chunks/{index}",
        data=body,
        headers={**org.headers, "Content-Type": OCTETS, **headers},
    )


def chunk_rows(app) -> list[tuple[str, int, bytes]]:
    with app.app_context():
        query = select(Attachment.aid, AttachmentChunk.index, AttachmentChunk.data).join(Attachment)
        return [(aid, index, bytes(data)) for aid, index, data in db.session.execute(query)]


def test_chunks_arrive_one_by_one_and_the_server_says_what_it_has(org: Org, client, app) -> None:
    [(aid, chunks)] = stored_report_with(org, client, [700_000])
    assert len(chunks) == 3
    assert client.get(f"/api/v1/attachments/{aid}", headers=org.headers).json == {"chunks": 3, "received": []}
    assert put(client, org, aid, 2, chunks[2]).status_code == 204
    assert put(client, org, aid, 0, chunks[0]).status_code == 204
    assert client.get(f"/api/v1/attachments/{aid}", headers=org.headers).json == {"chunks": 3, "received": [0, 2]}
    before = table_counts(app)
    assert put(client, org, aid, 0, chunks[0]).status_code == 204  # again: nothing changes
    assert table_counts(app) == before
    other = bytearray(chunks[0])
    other[0] ^= 1
    assert_problem(put(client, org, aid, 0, bytes(other)), 409)  # other bytes for a kept chunk: the first stays
    assert put(client, org, aid, 1, chunks[1]).status_code == 204
    with app.app_context():
        attachment = db.session.scalar(select(Attachment).where(Attachment.aid == aid))
        assert attachment.received == attachment.chunks == 3
    stored = sorted((i, data) for a, i, data in chunk_rows(app) if a == aid)
    assert crypto.open_chunks(bytes(32), aid, [data for _, data in stored])[:256] == bytes(range(256))


def test_an_empty_file_is_one_chunk_of_its_tag_alone(org: Org, client) -> None:
    [(aid, chunks)] = stored_report_with(org, client, [0])
    assert [len(c) for c in chunks] == [crypto.TAG_LEN]
    assert put(client, org, aid, 0, chunks[0]).status_code == 204


def other_team_token(org: Org, client) -> str:
    with org.app.app_context():
        team = teams.create_team(db.session, "Loreto 2")
        code = enrollment.issue_code(db.session, team)
        db.session.commit()
    return client.post("/api/v1/enroll", json={"code": code}).json["device_token"]


def test_hostile_chunk_uploads_are_refused_and_store_nothing(org: Org, client, app) -> None:
    [(aid, chunks)] = stored_report_with(org, client, [300_000])
    other_token = other_team_token(org, client)
    before = table_counts(app)
    cases = [
        (put(client, org, str(uuid.uuid4()), 0, chunks[0]), 404),  # no report declared it
        (put(client, org, "not-an-aid", 0, chunks[0]), 404),
        (put(client, org, aid.upper(), 0, chunks[0]), 404),
        (put(client, org, aid, 2, chunks[1]), 404),  # beyond the declared count
        (put(client, org, aid, "-1", chunks[0]), 404),
        (put(client, org, aid, "+1", chunks[1]), 404),
        (put(client, org, aid, "1e3", chunks[1]), 404),
        (put(client, org, aid, "9" * 40, chunks[1]), 404),
        (put(client, org, aid, 0, chunks[0][:-1]), 422),  # a chunk before the last is always full
        (put(client, org, aid, 0, chunks[0] + b"x"), 413),
        (put(client, org, aid, 1, b"short"), 422),  # the last holds at least its tag
        (put(client, org, aid, 1, chunks[1], **{"Content-Type": "application/json"}), 415),
        (client.put(f"/api/v1/attachments/{aid}/chunks/0", data=chunks[0], content_type=OCTETS), 401),
        (put(client, org, aid, 0, chunks[0], Authorization="Bearer " + "x" * 43), 401),
        (put(client, org, aid, 0, chunks[0], Authorization=f"Bearer {other_token}"), 404),  # another team's
        (client.get(f"/api/v1/attachments/{aid}", headers={"Authorization": f"Bearer {other_token}"}), 404),
        (client.get(f"/api/v1/attachments/{uuid.uuid4()}", headers=org.headers), 404),
        (client.get(f"/api/v1/attachments/{aid}"), 401),
    ]
    for answer, status in cases:
        assert_problem(answer, status)
    assert table_counts(app) == before


def test_a_revoked_phone_gets_401_and_one_revoked_with_a_wipe_still_delivers(org: Org, client, app) -> None:
    from fieldapp.models import Device
    from fieldapp.services import devices

    [(aid, chunks)] = stored_report_with(org, client, [1000])
    with app.app_context():
        device_id = db.session.scalars(select(Device.id)).one()
        devices.revoke(db.session, device_id, wipe=True)
        db.session.commit()
    assert put(client, org, aid, 0, chunks[0]).status_code == 204  # its sealed outbox still goes
    with app.app_context():
        db.session.execute(Device.__table__.update().values(wipe_requested_on=None))  # revoked, no wipe
        db.session.commit()
    assert_problem(client.get(f"/api/v1/attachments/{aid}", headers=org.headers), 401)


@pytest.mark.parametrize("v", sorted(crypto.WIRES))
def test_attachments_over_the_limits_are_refused_with_their_report(org: Org, client, app, v: int) -> None:
    config = app.config["FIELDAPP"]
    assert config.attachment_limits == (32 << 20, 128 << 20)  # 32 MiB and 128 MiB
    per_attachment, per_report = (limit // crypto.wire(v).chunk_size for limit in config.attachment_limits)
    doc = {"form": "trafficking-report", "answers": {}}
    before = table_counts(app)
    for att in (
        [{"aid": str(uuid.uuid4()), "chunks": per_attachment + 1}],
        [{"aid": str(uuid.uuid4()), "chunks": per_attachment} for _ in range(per_report // per_attachment + 1)],
    ):
        envelope = crypto.seal_document(doc, org.pub, att=att, v=v)
        [result] = client.post("/api/v1/reports", json={"reports": [envelope]}, headers=org.headers).json["results"]
        assert result["status"] == "rejected" and "MiB" in result["error"]
    assert table_counts(app) == before
    at_the_limit = crypto.seal_document(doc, org.pub, att=[{"aid": str(uuid.uuid4()), "chunks": per_attachment}], v=v)
    [result] = client.post("/api/v1/reports", json={"reports": [at_the_limit]}, headers=org.headers).json["results"]
    assert result["status"] == "stored"


def test_an_aid_another_report_declared_makes_the_later_report_rejected(org: Org, client, app) -> None:
    [(aid, _)] = stored_report_with(org, client, [1000])
    doc = {"form": "trafficking-report", "answers": {}}
    before = table_counts(app)
    thief = crypto.seal_document(doc, org.pub, att=[{"aid": aid, "chunks": 1}])
    twins = [
        crypto.seal_document(doc, org.pub, att=[{"aid": shared, "chunks": 1}]) for shared in [str(uuid.uuid4())] * 2
    ]
    results = client.post("/api/v1/reports", json={"reports": [thief, *twins]}, headers=org.headers).json["results"]
    assert [r["status"] for r in results] == ["rejected", "stored", "rejected"]
    after = table_counts(app)
    assert after["reports"] == before["reports"] + 1 and after["attachments"] == before["attachments"] + 1
    again = client.post("/api/v1/reports", json={"reports": [twins[0]]}, headers=org.headers).json["results"]
    assert again[0]["status"] == "duplicate"  # a retry of the one stored is not a clash with itself


HOSTILE = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@HOSTILE
@given(
    aid=st.text(max_size=60) | st.just("7d1f0c9e-3b7a-4c1e-9f2a-6a5b4c3d2e1f"),
    index=st.text(max_size=12) | st.integers(-5, 10**12).map(str),
    body=st.binary(max_size=600),
    content_type=st.sampled_from([OCTETS, "application/json", "text/plain", "", "application/octet-stream; x=1"]),
    method=st.sampled_from(["PUT", "GET", "POST"]),
)
def test_the_attachment_routes_never_fail_hard(org: Org, client, aid, index, body, content_type, method) -> None:
    from urllib.parse import quote

    path = f"/api/v1/attachments/{quote(aid, safe='')}" + (
        "" if method == "GET" else f"/chunks/{quote(index, safe='')}"
    )
    answer = client.open(path, method=method, data=body, headers={**org.headers, "Content-Type": content_type})
    assert answer.status_code < 500, answer.get_data(as_text=True)[:300]
    if answer.status_code >= 400 and answer.mimetype != "text/html":
        assert answer.mimetype == "application/problem+json"


# ---------------------------------------------------------------- supervisors


def report_with_entries(
    org: Org, client, files: dict[str, bytes], damage: str | None = None, v: int = 1
) -> tuple[str, dict]:
    """A report whose document names each file (kind by name), stored, with every chunk uploaded."""
    entries, att, sealed = [], [], {}
    for name, plain in files.items():
        aid, key = str(uuid.uuid4()), bytes(range(32))
        chunks = crypto.seal_chunks(key, aid, plain, v)
        entry = {
            "aid": aid,
            "kind": "photo" if name.endswith(".jpg") else "audio",
            "mime": "image/jpeg" if name.endswith(".jpg") else "audio/webm",
            "size": len(plain),
            "chunks": len(chunks),
            "key": crypto.b64u_encode(key),
            "sha256": crypto.b64u_encode(hashlib.sha256(plain).digest()),
        }
        if damage == name:
            entry["sha256"] = crypto.b64u_encode(hashlib.sha256(b"other").digest())
        entries.append(entry)
        att.append({"aid": aid, "chunks": len(chunks)})
        sealed[name] = (aid, chunks)
    doc = {"form": "trafficking-report", "form_version": 1, "answers": {}, "attachments": entries}
    envelope = crypto.seal_document(doc, org.pub, att=att, v=v)
    client.post("/api/v1/reports", json={"reports": [envelope]}, headers=org.headers)
    for name, (aid, chunks) in sealed.items():
        for i, chunk in enumerate(chunks):
            if name != "missing.webm" or i == 0:
                assert put(client, org, aid, i, chunk).status_code == 204
    return envelope["rid"], {name: aid for name, (aid, _) in sealed.items()}


@pytest.mark.usefixtures("inbox_org")
@pytest.mark.parametrize("v", sorted(crypto.WIRES))
def test_a_supervisor_plays_and_sees_what_arrived_and_is_told_what_did_not(org, client, app, v) -> None:
    voice, photo = b"\x1a\x45\xdf\xa3" + bytes(300_000), b"\xff\xd8\xff\xe0" + bytes(1000)
    missing = bytes(2 * crypto.wire(v).chunk_size + 1)  # three chunks, one sent
    files = {"voz.webm": voice, "cartel.jpg": photo, "missing.webm": missing, "bad.webm": b"abc"}
    rid, aids = report_with_entries(org, client, files, damage="bad.webm", v=v)
    login(client, "sara")
    unlock(client)
    listed = client.get("/dashboard/reports").get_data(as_text=True)
    assert listed.count("(adjuntos llegando)") == 1  # the missing one's report alone
    page = client.get(f"/dashboard/reports/{rid}").get_data(as_text=True)
    assert f'<audio controls preload="none" src="/dashboard/reports/{rid}/attachments/{aids["voz.webm"]}"' in page
    assert '<img class="attachment"' in page and "1 de 3 partes" in page
    answer = client.get(f"/dashboard/reports/{rid}/attachments/{aids['voz.webm']}")
    assert answer.status_code == 200 and answer.data == voice and answer.mimetype == "audio/webm"
    assert answer.headers["Cache-Control"] == "no-store" and answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in answer.headers["Content-Security-Policy"]
    assert client.get(f"/dashboard/reports/{rid}/attachments/{aids['cartel.jpg']}").data == photo
    assert client.get(f"/dashboard/reports/{rid}/attachments/{aids['missing.webm']}").status_code == 409
    assert client.get(f"/dashboard/reports/{rid}/attachments/{aids['bad.webm']}").status_code == 422
    assert client.get(f"/dashboard/reports/{rid}/attachments/{uuid.uuid4()}").status_code == 404
    assert client.get(f"/dashboard/reports/{rid}/attachments/{'x' * 5000}").status_code == 404


@pytest.mark.usefixtures("inbox_org")
def test_a_hostile_attachment_entry_is_shown_as_invalid_never_served(org, client) -> None:
    aid = str(uuid.uuid4())
    chunks = crypto.seal_chunks(bytes(32), aid, b"<script>alert(1)</script>")
    hostile = {"aid": aid, "kind": "<b>x</b>", "mime": "text/html", "size": 26, "chunks": 1, "key": "A" * 43}
    doc = {"form": "trafficking-report", "form_version": 1, "answers": {}, "attachments": [hostile, 5, None]}
    envelope = crypto.seal_document(doc, org.pub, att=[{"aid": aid, "chunks": 1}])
    client.post("/api/v1/reports", json={"reports": [envelope]}, headers=org.headers)
    assert put(client, org, aid, 0, chunks[0]).status_code == 204
    login(client, "sara")
    unlock(client)
    page = client.get(f"/dashboard/reports/{envelope['rid']}")
    assert page.status_code == 200 and page.get_data(as_text=True).count("no es válido y no se puede mostrar") == 3
    assert "<b>x</b>" not in page.get_data(as_text=True)
    answer = client.get(f"/dashboard/reports/{envelope['rid']}/attachments/{aid}")
    assert answer.status_code == 422 and b"<script>" not in answer.data


@pytest.mark.usefixtures("inbox_org")
def test_an_attachment_named_twice_in_its_document_is_shown_and_exported_once(org, client) -> None:
    import io
    import zipfile

    aid, key, plain = str(uuid.uuid4()), bytes(range(32)), b"\x1a\x45\xdf\xa3" + bytes(100)
    [chunk] = crypto.seal_chunks(key, aid, plain, 2)
    entry = {"aid": aid, "kind": "audio", "mime": "audio/webm", "size": len(plain), "chunks": 1}
    entry |= {"key": crypto.b64u_encode(key), "sha256": crypto.b64u_encode(hashlib.sha256(plain).digest())}
    # The same entry three times: a device may seal anything.
    doc = {"form": "trafficking-report", "form_version": 1, "answers": {}, "attachments": [entry] * 3}
    envelope = crypto.seal_document(doc, org.pub, att=[{"aid": aid, "chunks": 1}], v=2)
    client.post("/api/v1/reports", json={"reports": [envelope]}, headers=org.headers)
    assert put(client, org, aid, 0, chunk).status_code == 204
    login(client, "sara")
    unlock(client)
    page = client.get(f"/dashboard/reports/{envelope['rid']}").get_data(as_text=True)
    assert page.count("<audio") == 1
    archive = zipfile.ZipFile(io.BytesIO(client.get("/dashboard/export?format=csv&attachments=1").data))
    assert [n for n in archive.namelist() if aid in n] == [f"{envelope['rid']}/{aid}.webm"]


def test_export_writes_each_attachment_decrypted_into_the_folder_given_and_names_the_rest(
    org: Org, client, app, runner, tmp_path
) -> None:
    from .conftest import KEY_PASSPHRASE

    voice = b"\x1a\x45\xdf\xa3" + bytes(300_000)
    files = {"voz.webm": voice, "cartel.jpg": b"\xff\xd8" + bytes(10), "missing.webm": bytes(600_000), "bad.webm": b"x"}
    rid, aids = report_with_entries(org, client, files, damage="bad.webm")
    env = {"FIELDAPP_PASSPHRASE": KEY_PASSPHRASE}
    inside = app.config["FIELDAPP"].instance_path / "adjuntos"
    refused = runner.invoke(
        args=["export", "--as", "ana", "--out", str(tmp_path / "r.jsonl"), "--attachments", str(inside)], env=env
    )
    assert refused.exit_code != 0 and not inside.exists()
    folder = tmp_path / "adjuntos"
    result = runner.invoke(
        args=["export", "--as", "ana", "--out", str(tmp_path / "r.jsonl"), "--attachments", str(folder)], env=env
    )
    assert result.exit_code == 0, result.output
    assert (folder / rid / f"{aids['voz.webm']}.webm").read_bytes() == voice
    assert (folder / rid / f"{aids['cartel.jpg']}.jpg").read_bytes() == files["cartel.jpg"]
    assert sorted(p.name for p in (folder / rid).iterdir()) == sorted(
        [f"{aids['voz.webm']}.webm", f"{aids['cartel.jpg']}.jpg"]
    )
    assert oct((folder / rid / f"{aids['voz.webm']}.webm").stat().st_mode & 0o777) == "0o600"
    assert "faltan partes" in result.output and "SHA-256" in result.output and "2 adjuntos" in result.output


@pytest.mark.usefixtures("inbox_org")
def test_the_dashboard_streams_a_zip_of_the_rows_and_each_attachment_decrypted(org, client, app) -> None:
    import csv
    import io
    import zipfile

    voice = b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 1200
    files = {"voz.webm": voice, "cartel.jpg": b"\xff\xd8" + bytes(10), "missing.webm": bytes(600_000), "bad.webm": b"x"}
    rid, aids = report_with_entries(org, client, files, damage="bad.webm", v=2)
    login(client, "sara")
    assert client.get("/dashboard/export?format=csv&attachments=1").status_code == 302  # locked: unlock first
    unlock(client)
    assert client.get("/dashboard/export?format=csv&attachments=yes").status_code == 422
    answer = client.get("/dashboard/export?format=csv&attachments=1")
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    assert answer.headers["Content-Disposition"].endswith('.zip"')
    archive = zipfile.ZipFile(io.BytesIO(answer.data))
    assert archive.testzip() is None
    names = archive.namelist()
    assert names[0].startswith("fieldapp-csv-") and names[0].endswith(".csv") and names[-1] == "adjuntos.csv"
    assert archive.read(f"{rid}/{aids['voz.webm']}.webm") == voice
    assert archive.read(f"{rid}/{aids['cartel.jpg']}.jpg") == files["cartel.jpg"]
    assert len(names) == 4  # the rows, two attachments whole and checked, the listing
    assert rid in archive.read(names[0]).decode("utf-8-sig")
    listing = list(csv.reader(io.StringIO(archive.read("adjuntos.csv").decode("utf-8-sig"))))
    assert listing[0] == ["informe", "adjunto", "archivo", "estado"]
    states = {row[1]: row[3] for row in listing[1:]}
    assert states[aids["voz.webm"]] == "incluido" and "faltan partes" in states[aids["missing.webm"]]
    assert "SHA-256" in states[aids["bad.webm"]]
    english = client.get("/dashboard/export?format=jsonl&attachments=1&lang=en")
    listing = zipfile.ZipFile(io.BytesIO(english.data)).read("attachments.csv").decode("utf-8-sig")
    assert listing.startswith("report,attachment,file,state")
