"""Bundles (PROTOCOL.md §6 and §10): exported at a base, imported at HQ whole and once, with each report's team
and every chunk; a hostile or damaged bundle refused whole, storing nothing."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import uuid
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from fieldapp import crypto
from fieldapp.extensions import db
from fieldapp.models import Attachment, AttachmentChunk, Report
from fieldapp.services import bundles, teams

from .conftest import Org, make_config, running_app, table_counts
from .test_attachments import put

DOC = {"form": "trafficking-report", "form_version": 1, "answers": {"notes": "base de Huepetuhe"}}


def sent_with_attachment(org: Org, client, size: int, sent: int | None = None, v: int = 2) -> tuple[str, str]:
    """A report with one attachment of `size` bytes, its first `sent` chunks uploaded (all by default)."""
    aid = str(uuid.uuid4())
    chunks = crypto.seal_chunks(bytes(32), aid, bytes(range(256)) * (size // 256), v)
    envelope = crypto.seal_document(DOC, org.pub, att=[{"aid": aid, "chunks": len(chunks)}], v=v)
    assert client.post("/api/v1/reports", json={"reports": [envelope]}, headers=org.headers).status_code == 200
    for i, chunk in enumerate(chunks[: len(chunks) if sent is None else sent]):
        assert put(client, org, aid, i, chunk).status_code == 204
    return envelope["rid"], aid


def server_state(app) -> dict:  # type: ignore[no-untyped-def]
    """Every report (by rid: team, envelope) and every chunk (by aid and index: its digest)."""
    with app.app_context():
        found = {
            rid: (team, envelope)
            for rid, team, envelope in db.session.execute(
                select(Report.rid, Report.team_id, Report.envelope).order_by(Report.rid)
            )
        }
        names = {t.id: t.name for t in teams.list_teams(db.session)}
        chunks = {
            (aid, index): hashlib.sha256(bytes(data)).hexdigest()
            for aid, index, data in db.session.execute(
                select(Attachment.aid, AttachmentChunk.index, AttachmentChunk.data).join(AttachmentChunk)
            )
        }
        received = dict(db.session.execute(select(Attachment.aid, Attachment.received)).all())
    return {
        "reports": {rid: (names[team], env) for rid, (team, env) in found.items()},
        "chunks": chunks,
        "received": received,
    }


@pytest.fixture
def hq(tmp_path: Path, org: Org):  # type: ignore[no-untyped-def]
    """A second server on a database of its own, knowing the organisation's public key and the team."""
    folder = tmp_path / "hq"
    folder.mkdir()
    pem = org.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for app in running_app(make_config(folder)):
        with app.app_context():
            from fieldapp.services import keys

            keys.import_pem(db.session, pem, None, None, crypto.KdfParams(n=2**10, r=8, p=1))
            teams.create_team(db.session, org.team)
            db.session.commit()
        yield app


def export_to(app, path: Path, **kwargs) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return bundles.write_bundle_file(db.session, path, **kwargs)


def import_into(app, path: Path, team: str | None = None) -> bundles.Summary:  # type: ignore[no-untyped-def]
    config = app.config["FIELDAPP"]
    with app.app_context():
        chosen = teams.find_team(db.session, team) if team else None
        return bundles.import_bundle(
            db.session, path, max_ct_bytes=config.max_ct_bytes, limits=config.attachment_limits, team=chosen
        )


def test_a_bundle_carries_every_report_and_chunk_to_hq_once(org: Org, client, app, hq, tmp_path) -> None:
    plain = [client.post("/api/v1/reports", json={"reports": [org.envelope()]}, headers=org.headers) for _ in range(3)]
    assert all(a.status_code == 200 for a in plain)
    whole = sent_with_attachment(org, client, 200_000)
    partial = sent_with_attachment(org, client, 300_000, sent=2)  # still arriving: what came travels
    v1 = sent_with_attachment(org, client, 300_000, v=1)
    path = tmp_path / "memoria.zip"
    assert export_to(app, path) == 6
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with zipfile.ZipFile(path) as bundle:
        manifest = json.loads(bundle.read("manifest.json"))
        assert manifest["format"] == "fieldapp-bundle" and manifest["v"] == 2 and manifest["count"] == 6
        assert all(not name.startswith("/") and ".." not in name for name in bundle.namelist())

    summary = import_into(hq, path)
    assert (summary.stored, summary.duplicate, summary.rejected) == (6, 0, [])
    assert summary.chunks_new == 4 + 2 + 2
    base, there = server_state(app), server_state(hq)
    assert there["reports"] == base["reports"]  # the same envelopes, byte for byte, in the same team
    assert there["chunks"] == base["chunks"] and there["received"] == base["received"]
    assert there["received"][partial[1]] == 2 and there["received"][whole[1]] == 4 and there["received"][v1[1]] == 2

    before = table_counts(hq)
    again = import_into(hq, path)
    assert (again.stored, again.duplicate, again.chunks_new, again.chunks_known) == (0, 6, 0, 8)
    assert table_counts(hq) == before  # imported twice: nothing new


def test_a_later_bundle_completes_what_an_earlier_one_carried_in_part(org: Org, client, app, hq, tmp_path) -> None:
    rid, aid = sent_with_attachment(org, client, 300_000, sent=1)
    export_to(app, tmp_path / "first.zip")
    assert import_into(hq, tmp_path / "first.zip").stored == 1
    with app.app_context():
        [chunks] = [crypto.seal_chunks(bytes(32), aid, bytes(range(256)) * (300_000 // 256), 2)]
    for i in range(1, len(chunks)):
        assert put(client, org, aid, i, chunks[i]).status_code == 204
    export_to(app, tmp_path / "second.zip")
    summary = import_into(hq, tmp_path / "second.zip")
    assert (summary.duplicate, summary.chunks_new, summary.chunks_known) == (1, 4, 1)
    assert server_state(hq)["received"][aid] == 5


def test_export_chooses_by_date_and_team(org: Org, client, app, tmp_path) -> None:
    client.post("/api/v1/reports", json={"reports": [org.envelope()]}, headers=org.headers)
    with app.app_context():
        other = teams.create_team(db.session, "Puno 2")
        db.session.commit()
        assert bundles.count_selected(db.session, team=other) == 0
        import datetime as dt

        assert bundles.count_selected(db.session, since=dt.date.today() + dt.timedelta(days=1)) == 0
        assert bundles.count_selected(db.session, since=dt.date.today()) == 1
    with app.app_context():
        other = teams.find_team(db.session, "Puno 2")
        assert bundles.write_bundle_file(db.session, tmp_path / "b.zip", team=other) == 0


def test_a_v1_bundle_needs_a_team_and_reports_of_an_unknown_team_are_rejected(
    org: Org, client, app, hq, tmp_path
) -> None:
    envelope = org.envelope()
    lines = json.dumps(envelope) + "\n"
    path = write_zip(tmp_path / "v1.zip", {"manifest.json": manifest(1, 1), "reports.jsonl": lines})
    with pytest.raises(bundles.BundleError, match="nombre el equipo"):
        import_into(hq, path)
    assert import_into(hq, path, team=org.team).stored == 1

    stranger = {"team": "Loreto 9", "envelope": org.envelope()}
    path = write_zip(
        tmp_path / "v2.zip", {"manifest.json": manifest(2, 1), "reports.jsonl": json.dumps(stranger) + "\n"}
    )
    [refused] = import_into(hq, path).rejected
    assert refused.rid == stranger["envelope"]["rid"] and "Loreto 9" in refused.error.render(lambda s: s)


# ---------------------------------------------------------------- hostile bundles


def manifest(v: int, count: int, **extra: object) -> str:
    return json.dumps(
        {"format": "fieldapp-bundle", "v": v, "created_at": "2026-12-02T10:00:00+00:00", "count": count} | extra
    )


def write_zip(path: Path, members: dict[str, str | bytes], link: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, "/etc/passwd")
    return path


def good_members(org: Org, count: int = 2) -> dict[str, str | bytes]:
    lines = "".join(json.dumps({"team": org.team, "envelope": org.envelope()}) + "\n" for _ in range(count))
    return {"manifest.json": manifest(2, count), "reports.jsonl": lines}


def hostile_cases(org: Org, tmp_path: Path) -> dict[str, Path]:
    good = good_members(org)
    aid = str(uuid.uuid4())
    declared = crypto.seal_document(DOC, org.pub, att=[{"aid": aid, "chunks": 1}], v=2)
    with_chunk = {
        "manifest.json": manifest(2, 1),
        "reports.jsonl": json.dumps({"team": org.team, "envelope": declared}) + "\n",
    }
    cases: dict[str, dict[str, str | bytes]] = {
        "traversal": good | {"../../etc/cron.d/x": "x"},
        "absolute": good | {"/tmp/x": "x"},
        "unknown member": good | {"notas.txt": "x"},
        "lying count": good | {"manifest.json": manifest(2, 5)},
        "no manifest": {"reports.jsonl": good["reports.jsonl"]},
        "not a bundle": good | {"manifest.json": json.dumps({"format": "otro", "v": 2, "count": 2, "created_at": ""})},
        "unknown version": good | {"manifest.json": manifest(3, 2)},
        "extra manifest key": good | {"manifest.json": manifest(2, 2, team="x")},
        "line not JSON": good | {"reports.jsonl": "{nope\n", "manifest.json": manifest(2, 1)},
        "v2 line without team": good
        | {"reports.jsonl": json.dumps(org.envelope()) + "\n", "manifest.json": manifest(2, 1)},
        "chunk nobody declares": good | {f"attachments/{uuid.uuid4()}/0.bin": bytes(100)},
        "chunk past its count": with_chunk | {f"attachments/{aid}/1.bin": bytes(100)},
        "chunk too big": with_chunk | {f"attachments/{aid}/0.bin": bytes(300_000)},
        "chunk index with a zero": with_chunk | {f"attachments/{aid}/00.bin": bytes(100)},
        "bomb": good | {"reports.jsonl": good["reports.jsonl"] + " " * (8 << 20)},
    }
    paths = {name: write_zip(tmp_path / f"{n}.zip", members) for n, (name, members) in enumerate(cases.items())}
    paths["symlink"] = write_zip(tmp_path / "link.zip", good, link="attachments/x")
    duplicate = tmp_path / "dup.zip"
    with zipfile.ZipFile(duplicate, "w") as bundle, pytest.warns(UserWarning):
        for name, data in good.items():
            bundle.writestr(name, data)
        bundle.writestr("manifest.json", good["manifest.json"])
    paths["duplicate member"] = duplicate
    whole = write_zip(tmp_path / "whole.zip", good).read_bytes()
    (tmp_path / "cut.zip").write_bytes(whole[: len(whole) // 2])
    paths["truncated"] = tmp_path / "cut.zip"
    flipped = bytearray(whole)
    flipped[60] ^= 0xFF  # inside the first member's data: its CRC fails
    (tmp_path / "crc.zip").write_bytes(bytes(flipped))
    paths["damaged byte"] = tmp_path / "crc.zip"
    (tmp_path / "empty.zip").write_bytes(b"")
    paths["empty file"] = tmp_path / "empty.zip"
    return paths


def test_hostile_bundles_are_refused_whole_and_store_nothing(org: Org, app, tmp_path) -> None:
    before = table_counts(app)
    for name, path in hostile_cases(org, tmp_path).items():
        with pytest.raises(bundles.BundleError) as refused:
            import_into(app, path)
        assert refused.value.render(lambda s: s), name
        assert table_counts(app) == before, name


def test_envelopes_that_fail_the_apis_checks_are_rejected_alone(org: Org, app, tmp_path) -> None:
    good = org.envelope()
    lines = [{"team": org.team, "envelope": good}, {"team": org.team, "envelope": good | {"kid": "0" * 16}}]
    lines.append({"team": org.team, "envelope": {"v": 1, "rid": "x"}})
    path = write_zip(
        tmp_path / "mixed.zip",
        {"manifest.json": manifest(2, 3), "reports.jsonl": "".join(json.dumps(line) + "\n" for line in lines)},
    )
    summary = import_into(app, path)
    assert summary.stored == 1 and len(summary.rejected) == 2


BUNDLE_FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@BUNDLE_FUZZ
@given(
    names=st.lists(
        st.sampled_from(["manifest.json", "reports.jsonl", "attachments/", "x", "attachments/a/0.bin"])
        | st.text(max_size=30),
        max_size=4,
    ),
    payload=st.binary(max_size=300) | st.text(max_size=300),
    count=st.integers(-1, 3),
    cut=st.integers(0, 400),
)
def test_any_bundle_is_imported_whole_or_refused_and_never_crashes(
    org: Org, app, tmp_path, names, payload, count, cut
) -> None:
    members = good_members(org, 1) | {"manifest.json": manifest(2, count)}
    for name in names:
        members[name] = payload
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in members.items():
            try:
                bundle.writestr(name, data)
            except (ValueError, UnicodeEncodeError, IndexError):  # names zipfile itself will not write
                continue
    data = buffer.getvalue()
    path = tmp_path / f"fuzz-{uuid.uuid4().hex}.zip"
    path.write_bytes(data[: len(data) - cut] if cut < len(data) else data)
    before = table_counts(app)
    try:
        summary = import_into(app, path)
    except bundles.BundleError:
        assert table_counts(app) == before  # refused: nothing at all
        return
    after = table_counts(app)
    assert after["reports"] == before["reports"] + summary.stored


def test_the_command_line_packs_and_unpacks_with_counts_and_clear_refusals(
    org: Org, client, app, runner, tmp_path
) -> None:
    sent_with_attachment(org, client, 100_000)
    client.post("/api/v1/reports", json={"reports": [org.envelope()]}, headers=org.headers)
    out = tmp_path / "paquete.zip"
    result = runner.invoke(args=["bundle", "export", "--team", org.team, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 informes empaquetados" in result.output
    result = runner.invoke(args=["bundle", "import", str(out)])
    assert result.exit_code == 0, result.output
    assert "Guardados: 0 · ya estaban: 2 · rechazados: 0" in result.output
    hostile = write_zip(tmp_path / "malo.zip", good_members(org) | {"../x": "x"})
    result = runner.invoke(args=["bundle", "import", str(hostile)])
    assert result.exit_code != 0 and "no se puede aceptar: ../x" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(args=["bundle", "export", "--team", "Nadie", "--out", str(tmp_path / "n.zip")])
    assert result.exit_code != 0 and "Nadie" in result.output and not (tmp_path / "n.zip").exists()
    kept = out.read_bytes()  # an earlier bundle on the stick is never written over
    result = runner.invoke(args=["bundle", "export", "--out", str(out)])
    assert result.exit_code != 0 and "no se sobrescribe" in result.output and out.read_bytes() == kept
    assert sorted(p.name for p in tmp_path.glob(".*partial")) == []


def test_a_bundle_is_moved_into_place_where_the_stick_has_no_hard_links(
    org: Org, client, app, tmp_path, monkeypatch
) -> None:
    client.post("/api/v1/reports", json={"reports": [org.envelope()]}, headers=org.headers)

    def no_links(*args):  # type: ignore[no-untyped-def]
        raise PermissionError("vfat")

    monkeypatch.setattr(bundles.os, "link", no_links)
    assert export_to(app, tmp_path / "fat.zip") == 1
    assert zipfile.ZipFile(tmp_path / "fat.zip").testzip() is None
    with pytest.raises(bundles.Conflict):
        export_to(app, tmp_path / "fat.zip")


def test_an_admin_downloads_and_uploads_bundles_in_the_dashboard(org: Org, client, app, tmp_path) -> None:
    from .test_dashboard_access import csrf
    from .test_dashboard_reports import login

    rid, aid = sent_with_attachment(org, client, 100_000)
    login(client, "ana")  # the org fixture's admin
    page = client.get("/dashboard/bundles").get_data(as_text=True)
    assert "Exportar un paquete" in page and "Importar un paquete" in page
    answer = client.get("/dashboard/bundles/export")
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(answer.data)) as bundle:
        assert json.loads(bundle.read("manifest.json"))["count"] == 1
        assert f"attachments/{aid}/0.bin" in bundle.namelist()
    assert client.get("/dashboard/bundles/export?since=ayer").status_code == 422
    assert client.get("/dashboard/bundles/export?team=99999").status_code == 404

    def upload(data: bytes, team: str = "") -> tuple[int, str]:
        form = {"csrf_token": csrf(client, "/dashboard/bundles"), "team": team, "bundle": (io.BytesIO(data), "b.zip")}
        sent = client.post("/dashboard/bundles/import", data=form, content_type="multipart/form-data")
        return sent.status_code, sent.get_data(as_text=True)

    before = table_counts(app)
    status, text = upload(answer.data)
    assert status == 200 and "Guardados: 0 · ya estaban: 1 · rechazados: 0" in text
    hostile = write_zip(tmp_path / "h.zip", good_members(org) | {"../x": "x"}).read_bytes()
    status, text = upload(hostile)
    assert status == 422 and "no se puede aceptar: ../x" in text
    status, text = upload(b"no soy un zip")
    assert status == 422 and "no es un paquete zip legible" in text
    audit_rows = table_counts(app)["audit_events"] - before["audit_events"]
    assert {k: v for k, v in table_counts(app).items() if k != "audit_events"} == {
        k: v for k, v in before.items() if k != "audit_events"
    }
    assert audit_rows == 1  # the import that stored (nothing new); refusals store nothing at all


def test_an_upload_larger_than_an_api_request_is_taken(org: Org, client, app) -> None:
    """The CSRF check reads the form before the view: the bundle's larger limit must already hold there."""
    from .test_dashboard_access import csrf
    from .test_dashboard_reports import login

    sent_with_attachment(org, client, 5_000_000)  # 77 chunks: a bundle over the 4 MiB of an API request
    login(client, "ana")
    bundle = client.get("/dashboard/bundles/export").data
    assert len(bundle) > app.config["FIELDAPP"].max_request_bytes
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    # Encoded here, in memory: the test client would spool a body this large to a file it never closes.
    form = {"csrf_token": csrf(client, "/dashboard/bundles"), "bundle": FileStorage(io.BytesIO(bundle), "b.zip")}
    boundary, body = encode_multipart(form)
    answer = client.post(
        "/dashboard/bundles/import", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert answer.status_code == 200 and "ya estaban: 1" in answer.get_data(as_text=True)
    too_much = client.post(
        "/api/v1/reports", data=b"x" * (5 << 20), headers={**org.headers, "Content-Type": "application/json"}
    )
    assert too_much.status_code == 413  # the API keeps its own limit


@pytest.mark.parametrize("read_twice", [True, False])
def test_a_bundle_that_changes_between_its_reading_and_its_writing_stores_nothing_changed(
    org: Org, app, tmp_path, monkeypatch, read_twice: bool
) -> None:
    """A copy over the file or a failing stick between the two passes of a large bundle (read twice): the
    changed line is never stored. A small one is read once: what is stored is what was checked."""
    monkeypatch.setattr(bundles, "READ_STEP", 4096)  # read in small blocks, as a large file is
    if read_twice:
        monkeypatch.setattr(bundles, "KEEP_LINES_BYTES", 0)  # as large as a bundle read twice
    items = [{"team": org.team, "envelope": org.envelope()} for _ in range(250)]  # three batches
    path = tmp_path / "cambia.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as bundle:  # stored: the bytes sit in the file as they are
        bundle.writestr("manifest.json", manifest(2, 250))
        bundle.writestr("reports.jsonl", "\n".join(json.dumps(item) for item in items) + "\n")
    original = bundles.check_bundle

    def check_then_change(bundle, max_ct):  # type: ignore[no-untyped-def]
        checked = original(bundle, max_ct)
        data = path.read_bytes()
        at = data.index(b'"ct": "', len(data) // 5) + 7  # line 50 or so: in the first batch
        with path.open("r+b") as handle:  # one ciphertext character, in place: sizes and offsets unchanged
            handle.seek(at)
            handle.write(b"A" if data[at : at + 1] != b"A" else b"B")
        return checked

    monkeypatch.setattr(bundles, "check_bundle", check_then_change)
    before = table_counts(app)
    if read_twice:
        with pytest.raises(bundles.BundleError, match="cambió mientras se leía"):
            import_into(app, path)
        assert table_counts(app) == before
        return
    assert import_into(app, path).stored == 250
    stored = server_state(app)["reports"]
    assert all(json.loads(stored[item["envelope"]["rid"]][1]) == item["envelope"] for item in items)


def test_one_attachment_declared_two_ways_and_unreadable_zips_are_refused(org: Org, app, tmp_path) -> None:
    aid = str(uuid.uuid4())
    twice = [
        crypto.seal_document(DOC, org.pub, att=[{"aid": aid, "chunks": n}], v=2) for n in (1, 200)
    ]  # the first would be stored; the second would make the import read 200 chunks for it
    lines = "".join(json.dumps({"team": org.team, "envelope": e}) + "\n" for e in twice)
    path = write_zip(tmp_path / "dos.zip", {"manifest.json": manifest(2, 2), "reports.jsonl": lines})
    with pytest.raises(bundles.BundleError, match="de dos maneras"):
        import_into(app, path)
    whole = write_zip(tmp_path / "bien.zip", good_members(org)).read_bytes()
    central = whole.rindex(b"PK\x01\x02")
    for name, patch in {
        "too new a zip": (central + 6, b"\x63\x00"),
        "strongly encrypted": (central + 8, b"\x40\x00"),
    }.items():
        damaged = bytearray(whole)
        damaged[patch[0] : patch[0] + 2] = patch[1]
        (tmp_path / "x.zip").write_bytes(bytes(damaged))
        before = table_counts(app)
        with pytest.raises(bundles.BundleError):
            import_into(app, tmp_path / "x.zip")
        assert table_counts(app) == before, name


def test_an_upload_over_the_bundle_limit_is_told_that_limit(org: Org, client, monkeypatch) -> None:
    from fieldapp import FieldappRequest

    from .test_dashboard_reports import login

    login(client, "ana")
    monkeypatch.setitem(FieldappRequest.LARGER_BODIES, "dashboard.bundle_upload", 5 << 20)  # 5 MiB, for the test
    answer = client.post(
        "/dashboard/bundles/import", data=b"x" * (6 << 20), content_type="multipart/form-data; boundary=x"
    )
    assert answer.status_code == 413 and f"{5 << 20}" in answer.get_data(as_text=True)  # the route's, not 4 MiB
