"""A supervisor's day, in a real browser, on a report that came from a phone."""

from __future__ import annotations

import csv
import io
import uuid

from fieldapp.extensions import db
from fieldapp.services import keys, users

from ..conftest import FAST_KDF, KEY_PASSPHRASE, LOGIN_PASSPHRASE
from .conftest import PHONE_LOCALE, enrol, wait_for_queued

SUPERVISOR_KEY = "clave de la supervisora 2"


def test_supervisor_day(browser, live_server) -> None:
    name = f"sup-{uuid.uuid4().hex[:8]}"
    with live_server.app.app_context():
        ana = users.find_user(db.session, "ana")
        supervisor = users.create_user(db.session, name, "supervisor", LOGIN_PASSPHRASE, FAST_KDF)
        keys.grant(db.session, ana, KEY_PASSPHRASE, supervisor, SUPERVISOR_KEY, FAST_KDF)
        db.session.commit()

    # The phone, offline in the field, then back in signal.
    phone_context = browser.new_context(viewport={"width": 360, "height": 740}, locale=PHONE_LOCALE)
    phone = phone_context.new_page()
    enrol(phone, live_server)
    phone_context.set_offline(True)
    phone.click("text=Nuevo informe")
    phone.select_option("#f-department", "16")
    phone.check("input[name=place_kind][value=river_port]")
    phone.check("input[name=exploitation_type][value=ForcedLabour]")
    phone.check("input[name=sector][value=A_Logging]")
    phone.check("input[name=forced_labour_indicators][value=isolation]")
    phone.check("input[name=urgent]")
    phone.click("text=Guardar y cifrar")
    phone.wait_for_selector("text=Informe guardado y cifrado")
    [rid] = phone.evaluate("async () => (await (await import('/static/js/db.js')).outboxEntries()).map((e) => e.rid)")
    phone_context.set_offline(False)
    wait_for_queued(phone, 0)
    phone_context.close()

    # The supervisor at base.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True, locale=PHONE_LOCALE)
    page = context.new_page()
    page.goto(live_server.url + "/dashboard/login")
    page.fill("#username", name)
    page.fill("#passphrase", LOGIN_PASSPHRASE)
    page.click("form:has(#passphrase) button[type=submit]")
    page.click("nav >> text=Informes")
    page.click("text=Desbloquear para leer")
    page.fill("#key_passphrase", SUPERVISOR_KEY)
    page.click("form:has(#key_passphrase) button[type=submit]")
    page.wait_for_selector("text=Lectura desbloqueada")
    page.click(f'a[href$="{rid}"]')
    page.wait_for_selector("text=Peligro inmediato")
    assert "Tala (extracción de madera)" in page.inner_text("main") and "Puerto fluvial" in page.inner_text("main")

    page.check("input[name=status][value=in_review]")
    page.click("text=Guardar estado")
    page.check("input[name=status][value=referred]")
    page.select_option("#referred_to", "police")
    page.click("text=Guardar estado")
    page.wait_for_selector("text=Derivado a: Policía.")

    page.click("nav >> text=Estadísticas")
    sector = page.inner_text("#chart-sector")
    assert "Tala (extracción de madera)\t1" in sector or "Tala (extracción de madera) 1" in sector.replace("\t", " ")
    assert page.locator("#chart-sector svg[role=img]").count() == 1

    page.click("nav >> text=Informes")
    with page.expect_download() as download:
        page.click("a:text-is('CSV')")
    text = download.value.path().read_bytes().decode("utf-8")
    assert text.startswith("\ufeff")
    row = next(r for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff"))) if r["rid"] == rid)
    assert (row["status"], row["referred_to"], row["sector_label"]) == (
        "referred",
        "police",
        "Tala (extracción de madera)",
    )
    assert row["urgent"] == "yes" and row["department_label"] == "Loreto"

    page.click("text=Bloquear ahora")
    page.goto(live_server.url + f"/dashboard/reports/{rid}")
    page.wait_for_selector("h1:text('Desbloquear la lectura')")  # locked: reading needs the passphrase again
    page.click("text=Salir")
    page.wait_for_selector("h1:text('Entrar')")
    context.close()
