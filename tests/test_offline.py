"""Offline custody: a bundle opened with the organisation key on a laptop with no server, no database and no
network (`fieldapp decrypt`), writing only under the folder it is given."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from fieldapp import crypto
from fieldapp.cli import main
from fieldapp.extensions import db
from fieldapp.services import bundles, offline

from .conftest import FAST_KDF, Org
from .test_attachments import put

ANSWERS = {"department": "17", "place_kind": "mining_camp", "exploitation_type": ["ForcedLabour"], "notes": "Ñawpaq"}


@pytest.fixture
def carried(org: Org, client, app, tmp_path) -> tuple[Path, dict, bytes]:
    """A bundle made at the base: one report with a voice note (v2), one without; and the note's bytes."""
    voice = b"\x1a\x45\xdf\xa3" + os.urandom(150_000)
    aid, key = str(uuid.uuid4()), os.urandom(32)
    chunks = crypto.seal_chunks(key, aid, voice, 2)
    entry = {"aid": aid, "kind": "audio", "mime": "audio/webm;codecs=opus", "size": len(voice), "chunks": len(chunks)}
    entry |= {"key": crypto.b64u_encode(key), "sha256": crypto.b64u_encode(hashlib.sha256(voice).digest())}
    doc = {"form": "trafficking-report", "form_version": 1, "locale": "qu", "answers": ANSWERS, "attachments": [entry]}
    with_note = crypto.seal_document(doc, org.pub, att=[{"aid": aid, "chunks": len(chunks)}], v=2)
    plain = org.envelope({"form": "trafficking-report", "form_version": 1, "answers": ANSWERS | {"notes": "otro"}})
    client.post("/api/v1/reports", json={"reports": [with_note, plain]}, headers=org.headers)
    for i, chunk in enumerate(chunks):
        assert put(client, org, aid, i, chunk).status_code == 204
    path = tmp_path / "base.zip"
    with app.app_context():
        assert bundles.write_bundle_file(db.session, path) == 2
    return path, {with_note["rid"]: doc["answers"], plain["rid"]: ANSWERS | {"notes": "otro"}}, voice


@pytest.fixture
def laptop(tmp_path, monkeypatch) -> Path:
    """Where the command runs: no app may be made, and nothing may open a connection."""
    import fieldapp.cli as cli

    def no_app():  # type: ignore[no-untyped-def]
        raise AssertionError("decrypt made the app (a database)")

    def no_network(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("decrypt opened a connection")

    monkeypatch.setattr(cli, "_make_app", no_app)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    folder = tmp_path / "laptop"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("FIELDAPP_DATABASE_URL", raising=False)
    return folder


def pem_of(org: Org, path: Path, password: bytes | None = None) -> Path:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    path.write_bytes(
        org.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return path


def everything_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_a_carried_bundle_opens_with_the_key_alone_to_exactly_what_was_typed(org: Org, carried, laptop) -> None:
    bundle, typed, voice = carried
    key = pem_of(org, laptop / "org.pem")
    before = everything_under(laptop)
    result = CliRunner().invoke(main, ["decrypt", str(bundle), "--key", str(key), "--out", "salida", "--attachments"])
    assert result.exit_code == 0, result.output
    assert "2 informes descifrados" in result.output and "0 no se pudieron abrir" in result.output
    rows = [json.loads(line) for line in (laptop / "salida" / "reports.jsonl").read_text().splitlines()]
    assert {row["rid"]: row["document"]["answers"] for row in rows} == typed
    assert {row["team"] for row in rows} == {org.team}
    [rid] = [row["rid"] for row in rows if row["document"].get("attachments")]
    [aid] = [e["aid"] for row in rows for e in row["document"].get("attachments", [])]
    note = laptop / "salida" / "attachments" / rid / f"{aid}.webm"
    assert note.read_bytes() == voice and oct(note.stat().st_mode & 0o777) == "0o600"
    assert everything_under(laptop) - before == {
        "salida",
        "salida/reports.jsonl",
        "salida/attachments",
        f"salida/attachments/{rid}",
        f"salida/attachments/{rid}/{aid}.webm",
    }  # nothing anywhere else: no instance folder, no database


def test_the_recovery_kit_and_its_phrase_open_it_too_and_a_wrong_one_says_so(org: Org, carried, laptop) -> None:
    bundle, typed, _ = carried
    phrase = crypto.generate_recovery_phrase()
    kit = laptop / "kit.json"
    kit.write_bytes(crypto.make_recovery_kit(crypto.private_der(org.private), phrase, FAST_KDF))
    args = ["decrypt", str(bundle), "--recovery-kit", str(kit), "--format", "csv", "--out"]
    wrong = CliRunner().invoke(main, [*args, "mal"], env={"FIELDAPP_RECOVERY_PHRASE": "abandon " * 12})
    assert wrong.exit_code != 0 and "no se abre con esa frase" in wrong.output and not (laptop / "mal").exists()
    right = CliRunner().invoke(main, [*args, "bien"], env={"FIELDAPP_RECOVERY_PHRASE": phrase})
    assert right.exit_code == 0, right.output
    text = (laptop / "bien" / "reports.csv").read_text(encoding="utf-8-sig")
    assert all(rid in text for rid in typed) and "Madre de Dios" in text


def test_an_encrypted_pem_asks_its_passphrase(org: Org, carried, laptop) -> None:
    bundle, typed, _ = carried
    key = pem_of(org, laptop / "org.pem", b"frase de la llave")
    args = ["decrypt", str(bundle), "--key", str(key), "--out"]
    wrong = CliRunner().invoke(main, [*args, "a"], env={"FIELDAPP_KEY_PASSPHRASE": "otra"})
    assert wrong.exit_code != 0 and "frase" in wrong.output and "Traceback" not in wrong.output
    right = CliRunner().invoke(main, [*args, "b"], input="frase de la llave\n")
    assert right.exit_code == 0 and "2 informes descifrados" in right.output


def test_another_key_a_damaged_bundle_and_a_used_folder_are_clear(org: Org, carried, laptop) -> None:
    bundle, _, _ = carried
    from cryptography.hazmat.primitives.asymmetric import ec

    other = laptop / "otra.pem"
    other.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    result = CliRunner().invoke(main, ["decrypt", str(bundle), "--key", str(other), "--out", "x"])
    assert (
        result.exit_code == 0
        and "0 informes descifrados" in result.output
        and "2 no se pudieron abrir" in result.output
    )
    damaged = laptop / "dañado.zip"
    damaged.write_bytes(bundle.read_bytes()[:-200])
    key = pem_of(org, laptop / "org.pem")
    result = CliRunner().invoke(main, ["decrypt", str(damaged), "--key", str(key), "--out", "y"])
    assert result.exit_code != 0 and "no es un paquete zip legible" in result.output
    result = CliRunner().invoke(main, ["decrypt", str(bundle), "--key", str(key), "--out", "x"])
    assert result.exit_code != 0 and "no está vacía" in result.output
    result = CliRunner().invoke(main, ["decrypt", str(bundle), "--out", "z"])
    assert result.exit_code != 0 and "--key" in result.output


def test_a_bundle_refused_at_its_end_leaves_nothing_written(org: Org, carried, laptop) -> None:
    import zipfile

    bundle, _, _ = carried
    key = pem_of(org, laptop / "org.pem")
    with zipfile.ZipFile(bundle) as good:
        members = {name: good.read(name) for name in good.namelist()}
    manifest = json.loads(members["manifest.json"])
    for name, changed in {
        "lying count": members | {"manifest.json": json.dumps(manifest | {"count": 5})},
        "stray chunk": members | {f"attachments/{uuid.uuid4()}/0.bin": bytes(100)},
    }.items():
        path = laptop / f"{name}.zip"
        with zipfile.ZipFile(path, "w") as out:
            for member, data in changed.items():
                out.writestr(member, data)
        result = CliRunner().invoke(main, ["decrypt", str(path), "--key", str(key), "--out", name, "--attachments"])
        assert result.exit_code != 0 and "Traceback" not in result.output, name
        assert not (laptop / name).exists(), name  # what was written while reading is gone


def test_a_bundles_statistics_are_one_self_contained_page(org: Org, carried, laptop) -> None:
    import re

    bundle, typed, _ = carried
    key = pem_of(org, laptop / "org.pem")
    result = CliRunner().invoke(main, ["report", str(bundle), "--key", str(key), "--out", "cifras.html"])
    assert result.exit_code == 0, result.output
    page = (laptop / "cifras.html").read_text()
    assert oct((laptop / "cifras.html").stat().st_mode & 0o777) == "0o600"
    assert '<html lang="es"' in page and "2 informes contados." in page
    assert "Madre de Dios" in page and "Trabajo forzoso" in page and "<svg" in page
    assert "<script" not in page and not re.search(r"(src|href)=\"?(https?:)?//", page)  # nothing from elsewhere
    assert "Ñawpaq" not in page  # counts, never a report's words
    english = CliRunner().invoke(
        main, ["report", str(bundle), "--key", str(key), "--out", "en.html"], env={"FIELDAPP_LANG": "en"}
    )
    assert english.exit_code == 0 and "2 reports counted." in (laptop / "en.html").read_text()
    again = CliRunner().invoke(main, ["report", str(bundle), "--key", str(key), "--out", "cifras.html"])
    assert again.exit_code != 0 and "ya existe" in again.output


def test_a_crafted_rid_is_unreadable_and_a_repeated_report_writes_its_files_once(org: Org, carried, laptop) -> None:
    """Anyone with the public key can seal: a rid names folders, so one that is not a UUID opens nothing."""
    import zipfile

    bundle, typed, _ = carried
    with zipfile.ZipFile(bundle) as good:
        members = {name: good.read(name) for name in good.namelist()}
    lines = members["reports.jsonl"].decode().splitlines()
    crafted = {"team": org.team, "envelope": org.envelope(rid="../../fuera")}
    doubled = lines + [lines[0], json.dumps(crafted)]
    manifest = json.loads(members["manifest.json"]) | {"count": len(doubled)}
    path = laptop / "raro.zip"
    with zipfile.ZipFile(path, "w") as out:
        for name, data in (
            members | {"manifest.json": json.dumps(manifest), "reports.jsonl": "\n".join(doubled)}
        ).items():
            out.writestr(name, data)
    key = pem_of(org, laptop / "org.pem")
    result = CliRunner().invoke(main, ["decrypt", str(path), "--key", str(key), "--out", "salida", "--attachments"])
    assert result.exit_code == 0, result.output
    assert "3 informes descifrados" in result.output and "1 no se pudieron abrir" in result.output
    assert not (laptop / "fuera").exists() and not any("fuera" in p for p in everything_under(laptop))
    assert len(list((laptop / "salida" / "attachments").rglob("*.webm"))) == 1


def test_worker_processes_open_a_large_bundle_to_the_same_rows_in_the_same_order(org: Org, tmp_path) -> None:
    good = [
        crypto.seal_document(
            {"form": "trafficking-report", "form_version": 1, "answers": {"people_count": n % 9 + 1}}, org.pub
        )
        for n in range(1100)
    ]
    bad = {**good[700], "ct": good[701]["ct"]}  # a report that does not open, in the middle of a window
    lines = [*good[:700], bad, *good[701:]]
    path = tmp_path / "grande.zip"
    manifest = {"format": "fieldapp-bundle", "v": 2, "created_at": "2026-12-02T00:00:00+00:00", "count": len(lines)}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("manifest.json", json.dumps(manifest))
        bundle.writestr("reports.jsonl", "".join(json.dumps({"team": "t", "envelope": e}) + "\n" for e in lines))
    keys = {org.kid: org.private}
    found = {}
    for workers in (1, 2):
        with bundles.open_bundle(path) as bundle:
            _, reports = offline.read_bundle(bundle, keys, workers=workers)
            found[workers] = [report.row for report in reports]
    assert found[1] == found[2] and len(found[2]) == 1100
    assert [row["rid"] for row in found[2]] == [e["rid"] for e in lines]
    assert "error" in found[2][700] and "error" not in found[2][699]


def test_a_line_that_is_not_json_refuses_a_large_bundle_in_worker_processes_too(org: Org, tmp_path) -> None:
    good = crypto.seal_document({"form": "trafficking-report", "form_version": 1, "answers": {}}, org.pub)
    lines = [json.dumps({"team": "t", "envelope": {**good, "rid": str(uuid.uuid4())}}) for _ in range(900)]
    lines[600] = "{no es json"
    path = tmp_path / "roto.zip"
    manifest = {"format": "fieldapp-bundle", "v": 2, "created_at": "2026-12-02T00:00:00+00:00", "count": len(lines)}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("manifest.json", json.dumps(manifest))
        bundle.writestr("reports.jsonl", "\n".join(lines) + "\n")
    for workers in (1, 2):
        with bundles.open_bundle(path) as bundle, pytest.raises(bundles.BundleError) as refused:
            _, reports = offline.read_bundle(bundle, {org.kid: org.private}, workers=workers)
            list(reports)
        assert refused.value.params == {"line": 601} and "no es JSON" in refused.value.msgid
