"""The whole path without internet: reports typed on a phone with no server in reach, written to a file, imported
at the base, carried on a bundle, and decrypted on a laptop with no database: exactly what was typed."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from PIL import Image

from fieldapp.cli import main
from fieldapp.extensions import db
from fieldapp.services import bundles, teams

from .conftest import enrol, queued, save_report, wait_for_queued


def outbox_rids(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.evaluate("async () => (await (await import('/static/js/db.js')).outboxEntries()).map((e) => e.rid)")


def test_typed_offline_carried_on_files_and_read_without_a_server(context, live_server, tmp_path: Path) -> None:
    page = context.new_page()
    enrol(page, live_server)
    context.set_offline(True)  # no server in reach from here on
    save_report(page, "Ñawpaq killa, Huepetuhe: nos quitaron los documentos")
    save_report(page, "Segundo: 14 trabajadores en la balsa")
    page.click("text=Nuevo informe")
    page.select_option("#f-department", "21")
    page.check("input[name=place_kind][value=mining_camp]")
    page.check("input[name=exploitation_type][value=ForcedLabour]")
    page.check("input[name=sector][value=B_MiningAndQuarrying]")
    page.check("input[name=forced_labour_indicators][value=debt_bondage]")
    page.fill("#f-notes", "Con la foto del cartel")
    poster = tmp_path / "cartel.jpg"
    Image.new("RGB", (800, 600), (200, 30, 30)).save(poster)
    page.set_input_files("[data-testid=photo-gallery]", str(poster))
    page.wait_for_selector("ul.media li[data-kind=photo]")
    page.click("text=Guardar y cifrar")
    page.wait_for_selector("text=Informe guardado y cifrado")
    wait_for_queued(page, 3)
    rids = outbox_rids(page)

    with page.expect_download() as download:
        page.click("[data-testid=to-file]")
    assert download.value.suggested_filename.startswith("copia-")  # a name that says nothing
    page.wait_for_selector("text=3 informes en el archivo")
    assert queued(page) == 3 and sorted(outbox_rids(page)) == sorted(rids)  # the phone keeps every report
    phone_file = tmp_path / "del-telefono.zip"
    phone_file.write_bytes(download.value.path().read_bytes())
    with zipfile.ZipFile(phone_file) as made:
        assert made.testzip() is None
        manifest = json.loads(made.read("manifest.json"))
        assert manifest["v"] == 1 and len(manifest["created_at"]) == 10  # no team, and the day, not the hour
        assert len(made.read("reports.jsonl").splitlines()) == 3
        text = b"".join(made.read(name) for name in made.namelist())
        assert b"Huepetuhe" not in text and b"JFIF" not in text and live_server.team.encode() not in text

    # The base imports the phone's file (as `fieldapp bundle import` does), then writes its own bundle.
    app = live_server.app
    config = app.config["FIELDAPP"]
    with app.app_context():
        team = teams.find_team(db.session, live_server.team)  # named at the base: the phone's file does not say
        summary = bundles.import_bundle(
            db.session, phone_file, max_ct_bytes=config.max_ct_bytes, limits=config.attachment_limits, team=team
        )
        assert (summary.stored, summary.rejected) == (3, []) and summary.chunks_new >= 1
        base_file = tmp_path / "base.zip"
        assert bundles.write_bundle_file(db.session, base_file, team=team) >= 3

    # The laptop: the organisation key in a file, no server, no database.
    key = tmp_path / "org.pem"
    key.write_bytes(
        live_server.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    out = tmp_path / "leido"
    result = CliRunner().invoke(
        main, ["decrypt", str(base_file), "--key", str(key), "--out", str(out), "--attachments"]
    )
    assert result.exit_code == 0, result.output
    rows = {row["rid"]: row for row in map(json.loads, (out / "reports.jsonl").read_text().splitlines())}
    typed = {rows[rid]["document"]["answers"]["notes"] for rid in rids}
    assert typed == {
        "Ñawpaq killa, Huepetuhe: nos quitaron los documentos",
        "Segundo: 14 trabajadores en la balsa",
        "Con la foto del cartel",
    }
    [with_photo] = [rows[rid] for rid in rids if rows[rid]["document"].get("attachments")]
    [entry] = with_photo["document"]["attachments"]
    photo = (out / "attachments" / with_photo["rid"] / f"{entry['aid']}.jpg").read_bytes()
    assert Image.open(io.BytesIO(photo)).size == (800, 600)

    # Back in signal, the phone sends what the base already had: each a duplicate, and the outbox empties.
    context.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    wait_for_queued(page, 0, timeout=30_000)
