"""A phone taken at a checkpoint, in a real Chromium: locked, its storage, caches, title and manifest name
neither the team nor the form nor any word of its purpose; quick exit leaves nothing behind Back; a duress PIN
opens an empty app and wipes; a phone revoked with a wipe delivers its outbox first; the organisation's rules
reach the phone; a page closed in the middle of a save stores one report; the PIN pad fits one thumb."""

from __future__ import annotations

import dataclasses
import json
import unicodedata
import uuid
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe

from fieldapp import i18n
from fieldapp.extensions import db
from fieldapp.i18n import catalogs
from fieldapp.models import Device, Report
from fieldapp.services import devices

from .conftest import (
    PIN,
    choose_pin,
    enrol,
    open_app,
    past_fingerprint,
    save_report,
    wait_for_queued,
    wait_for_service_worker,
    wait_until,
)

FORM = Path(__file__).resolve().parents[2] / "fieldapp" / "forms" / "trafficking-report.json"
SHIPPED = ("en", "qu", "ay", "shp", "cni")
# Words that say what the app is for, in the language the app is written in.
PURPOSE_WORDS = ("trata", "explotación", "víctima", "informe", "reporte", "denuncia", "fieldapp")

SEIZED_PHONE = """
async () => {
  const read = (request) => new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  // Bytes as text too, as a forensic tool would try them.
  const bytes = (v) => new TextDecoder("utf-8", { fatal: false }).decode(v);
  const text = (value) => JSON.stringify(value, (k, v) => (v instanceof Uint8Array ? bytes(v) : v));
  const storage = [];
  for (const info of await indexedDB.databases()) {
    const db = await read(indexedDB.open(info.name));
    storage.push(`database ${info.name}`);
    for (const name of db.objectStoreNames) {
      const store = db.transaction(name).objectStore(name);
      storage.push(`store ${name}`, text(await read(store.getAllKeys())), text(await read(store.getAll())));
    }
    db.close();
  }
  const cached = [];
  for (const cacheName of await caches.keys()) {
    const cache = await caches.open(cacheName);
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      const type = response.headers.get("content-type") || "";
      cached.push({ cache: cacheName, url: request.url, type, body: await response.text() });
    }
  }
  const manifestUrl = document.querySelector('link[rel="manifest"]').href;
  return {
    storage: storage.join("\\n"),
    cached,
    local: JSON.stringify({ ...localStorage }),
    session: JSON.stringify({ ...sessionStorage }),
    title: document.title,
    history: history.length + JSON.stringify(history.state) + location.href,
    manifest: await (await fetch(manifestUrl)).text(),
    screen: document.body.innerText,
  };
}
"""


def folded(text: str) -> str:
    """Lower case without accents: a word found however it is written."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def form_words(translations: Path) -> set[str]:
    """The form's questions and its longer choices, in Spanish and in every shipped language's catalog."""
    spanish: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("label", "title") and isinstance(value, str) and len(value) >= 8:
                    spanish.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(FORM.read_text("utf-8")))
    words = set(spanish)
    for code in SHIPPED:
        compiled = json.loads(catalogs.app_catalog_path(code, translations).read_text("utf-8"))
        for msgid in spanish:
            translated = compiled["messages"].get(msgid)
            if isinstance(translated, str) and len(translated) >= 8:
                words.add(translated)
    return words


def leaks(haystack: str, needles: set[str]) -> list[str]:
    hay = folded(haystack)
    return sorted(n for n in needles if folded(n) in hay)


def test_a_seized_phone_names_neither_the_team_nor_the_form_nor_its_purpose(page, context, live_server) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    enrol(page, live_server, look="calculadora")
    wait_for_service_worker(page)
    page.select_option("#language", "en")  # a language other than the source: its catalog is kept too
    page.wait_for_selector("h1:text('Reports')")
    context.set_offline(True)
    page.click("text=Quick report")
    page.select_option("#f-department", "17")
    page.check("input[name=place_kind][value=mining_camp]")
    page.check("input[name=exploitation_type][value=ForcedLabour]")
    page.click("text=Save and encrypt")
    page.wait_for_selector("[data-testid=queued]:text('1')")  # a saved report waits, with its date
    page.click("text=New report")
    page.fill("#f-notes", canary)
    page.check("input[name=place_kind][value=mining_camp]")
    wait_until(page, "async () => (await (await import('/static/js/db.js')).draftEntries()).length === 1")
    page.wait_for_timeout(800)
    page.click("[data-quick-exit]")
    page.wait_for_selector(".pad.calculator")  # the calculator look's lock is a calculator
    page.reload()  # as the phone is found: opened afresh, locked
    page.wait_for_selector(".pad.calculator")

    seized = page.evaluate(SEIZED_PHONE)
    with live_server.app.app_context():  # a language's name says nothing of the form (the picker lists them)
        language_names = {entry.name for entry in i18n.language_entries()}
    named = {folded(name) for name in language_names}
    sensitive = {canary, live_server.team} | {w for w in form_words(live_server.translations) if folded(w) not in named}
    plain = "\n".join(
        [
            seized["storage"],
            seized["local"],
            seized["session"],
            seized["title"],
            seized["history"],
            seized["manifest"],
            seized["screen"],
        ]
    )
    assert leaks(plain, sensitive | set(PURPOSE_WORDS)) == []
    assert "database local" in seized["storage"] and "store queue" in seized["storage"]  # it was all read
    assert seized["title"] == "Calculadora" and json.loads(seized["manifest"])["name"] == "Calculadora"
    assert context.cookies() == []
    pages = [c for c in seized["cached"] if not c["url"].split("?")[0].endswith((".js", ".css", ".png"))]
    assert {c["url"].removeprefix(live_server.url) for c in pages} >= {"/", "/manifest.webmanifest"}
    assert not any("/i18n/" in c["url"] for c in seized["cached"])  # no catalog: they carry the form's words
    for entry in pages:
        assert leaks(entry["body"], sensitive | set(PURPOSE_WORDS)) == [], entry["url"]
    # The program's cached files too: the screens whose words tell the app's purpose are kept sealed, not
    # cached. The protocol's fixed labels (`fieldapp/1`) still name the program, and its kinds of question
    # are named for Peru's places (department, province, district), as in any Peruvian app: neither tells more.
    program = [c for c in seized["cached"] if c not in pages]
    assert {c["url"].removeprefix(live_server.url) for c in program} >= {"/static/js/app.js", "/static/js/ui/form.js"}
    places = {w for w in sensitive if folded(w) in ("department", "province", "district")}
    for entry in program:
        assert leaks(entry["body"], (sensitive - places) | (set(PURPOSE_WORDS) - {"fieldapp"})) == [], entry["url"]
    assert "screens-" in seized["storage"]  # sealed to the phone's key, for the worker once unlocked

    open_app(page)  # and with the PIN everything is back, in the chosen language
    page.wait_for_selector("text=Continue the draft")
    assert f"{live_server.team}" in page.inner_text("body")


def test_quick_exit_locks_and_back_does_not_bring_the_form_back(page, live_server) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    enrol(page, live_server)
    page.click("text=Nuevo informe")
    page.fill("#f-notes", canary)  # typed just now: not yet on storage when the exit comes
    page.click("[data-quick-exit]")
    page.wait_for_selector("#pin")
    assert canary not in page.content()
    page.go_back()
    page.wait_for_timeout(300)
    assert page.is_visible("#pin") and not page.is_visible("#f-notes") and canary not in page.content()
    assert page.evaluate("async () => (await import('/static/js/lock.js')).openKey()") is None
    open_app(page)
    page.click("text=Seguir el borrador")  # the last keystrokes were kept before the keys went
    assert page.input_value("#f-notes") == canary


def test_three_quick_taps_are_a_quick_exit_too(page, live_server) -> None:
    enrol(page, live_server)
    page.click("text=Nuevo informe")
    page.wait_for_selector("#f-notes")
    box = page.locator("h1").bounding_box()
    x, y = box["x"] + 5, box["y"] + box["height"] / 2
    for _ in range(3):  # three scroll flicks are not taps: the interview goes on
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x, y + 60, steps=4)
        page.mouse.up()
    page.wait_for_timeout(300)
    assert page.is_visible("#f-notes")
    for _ in range(3):
        page.mouse.click(x, y)
    page.wait_for_selector("#pin")
    open_app(page)
    page.wait_for_selector("h1:text('Informes')")
    page.keyboard.press("Escape")  # on a keyboard
    page.wait_for_selector("#pin")


def with_rules(live_server, **phone):  # type: ignore[no-untyped-def]
    """The organisation's phone rules changed on the running server, as its configuration would."""
    config = live_server.app.config["FIELDAPP"]
    live_server.app.config["FIELDAPP"] = dataclasses.replace(config, **phone)
    return config


def test_a_duress_pin_opens_an_empty_app_and_wipes_but_the_outbox_still_goes(
    page, context, live_server, tmp_path
) -> None:
    before = with_rules(live_server, duress_pin=True)
    try:
        page.goto(live_server.url + "/")
        page.fill("#code", live_server.enrollment_code())
        page.click("text=Conectar este teléfono")
        past_fingerprint(page)
        page.wait_for_selector("#pin-duress")
        page.fill("#pin-new", PIN)
        page.fill("#pin-again", PIN)
        page.fill("#pin-duress", PIN)  # the same as the PIN: refused
        page.click("form.pin-form button.primary")
        page.wait_for_selector("text=El PIN de emergencia debe ser distinto del PIN.")
        page.fill("#pin-duress", "135790")
        page.click("form.pin-form button.primary")
        page.wait_for_selector("h1:text('Informes')")
        context.set_offline(True)
        save_report(page, "entregar igual", quick=True)
        page.click("text=Nuevo informe")
        page.fill("#f-notes", "borrador que se borra")
        page.click("[data-quick-exit]")
        page.fill("#pin", "135790")
        page.click("form.pin-form button.primary")
        page.wait_for_selector("text=Nada por aquí todavía.")
        left = page.evaluate(
            """async () => {
              const db = await import("/static/js/db.js");
              return { outbox: (await db.outboxEntries()).length, drafts: (await db.draftEntries()).length,
                       team: (await db.getSetting("team")) ?? null,
                       bootstrap: (await db.getSetting("bootstrap")) ?? null };
            }"""
        )
        assert left == {"outbox": 1, "drafts": 0, "team": None, "bootstrap": None}
        page.reload()  # the app still asks for a PIN, as before...
        page.fill("#pin", "135790")  # ...and the same one opens it, empty again
        page.click("form.pin-form button.primary")
        page.wait_for_selector("text=Nada por aquí todavía.")
        page.reload()
        page.fill("#pin", PIN)  # the real PIN went with the wipe
        page.click("form.pin-form button.primary")
        page.wait_for_selector("text=PIN incorrecto")
        context.set_offline(False)
        page.evaluate("() => window.dispatchEvent(new Event('online'))")
        wait_until(page, "async () => (await (await import('/static/js/db.js')).outboxEntries()).length === 0", 30)
    finally:
        live_server.app.config["FIELDAPP"] = before


def test_the_organisations_failure_limit_reaches_the_phone(page, live_server) -> None:
    before = with_rules(live_server, pin_failures=3)
    try:
        enrol(page, live_server)
        wait_until(page, "async () => (await (await import('/static/js/lock.js')).rules()).pin_failures === 3")
        page.reload()
        for _ in range(2):
            page.fill("#pin", "000000")
            page.click("form.pin-form button.primary")
            page.wait_for_selector("text=PIN incorrecto")
        page.fill("#pin", "000000")
        page.click("form.pin-form button.primary")
        page.wait_for_selector("text=Nada por aquí todavía.")
    finally:
        live_server.app.config["FIELDAPP"] = before


def test_a_phone_revoked_with_a_wipe_delivers_its_outbox_then_wipes(page, context, live_server) -> None:
    enrol(page, live_server)
    token = page.evaluate("async () => (await import('/static/js/db.js')).getSetting('deviceToken')")
    context.set_offline(True)
    save_report(page, "por entregar antes del borrado", quick=True)
    page.click("text=Nuevo informe")
    page.fill("#f-notes", "borrador")
    wait_until(page, "async () => (await (await import('/static/js/db.js')).draftEntries()).length === 1")
    rid = page.evaluate("async () => (await (await import('/static/js/db.js')).outboxEntries())[0].rid")
    with live_server.app.app_context():
        from fieldapp.crypto import token_digest

        device = db.session.query(Device).filter_by(token_hash=token_digest(token)).one()
        devices.revoke(db.session, device.id, wipe=True)
        db.session.commit()
        device_id = device.id
        db.session.remove()
    context.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("text=Nada por aquí todavía.", timeout=30000)
    left = page.evaluate(
        """async () => {
          const db = await import("/static/js/db.js");
          return { outbox: (await db.outboxEntries()).length, drafts: (await db.draftEntries()).length,
                   lock: (await db.getSetting("lock")) ?? null, bootstrap: (await db.getSetting("bootstrap")) ?? null };
        }"""
    )
    assert left == {"outbox": 0, "drafts": 0, "lock": None, "bootstrap": None}
    with live_server.app.app_context():
        assert db.session.query(Report).filter_by(rid=rid).count() == 1  # delivered before the wipe
        assert db.session.get(Device, device_id).wiped_on is not None
        db.session.remove()


def test_a_page_closed_in_the_middle_of_a_save_stores_one_report(page, context, live_server) -> None:
    enrol(page, live_server)
    page.click("text=Nuevo informe")
    page.select_option("#f-department", "17")
    page.check("input[name=place_kind][value=mining_camp]")
    page.check("input[name=exploitation_type][value=ForcedLabour]")
    page.check("input[name=sector][value=B_MiningAndQuarrying]")
    wait_until(page, "async () => (await (await import('/static/js/db.js')).draftEntries()).length === 1")
    rid = page.evaluate("async () => (await (await import('/static/js/db.js')).draftEntries())[0].id")
    context.set_offline(True)
    page.dblclick("text=Guardar y cifrar", no_wait_after=True)
    page.close()  # the tab killed while sealing and storing
    page = context.new_page()
    page.goto(live_server.url + "/")
    open_app(page)
    state = page.evaluate(
        """async () => {
          const db = await import("/static/js/db.js");
          return { outbox: (await db.outboxEntries()).map((e) => e.rid),
                   drafts: (await db.draftEntries()).map((d) => d.id) };
        }"""
    )
    # Either the save went through (one report, no draft) or it did not (the draft, no report): never both.
    assert state in ({"outbox": [rid], "drafts": []}, {"outbox": [], "drafts": [rid]}), state
    if state["drafts"]:
        page.click("text=Seguir el borrador")
        page.dblclick("text=Guardar y cifrar")
        page.wait_for_selector("text=Informe guardado y cifrado")
    context.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    wait_for_queued(page, 0)
    with live_server.app.app_context():
        assert db.session.query(Report).filter_by(rid=rid).count() == 1
        db.session.remove()


def test_the_pin_pad_fits_one_thumb_and_passes_axe(page, live_server) -> None:
    enrol(page, live_server, look="notas")
    page.reload()
    page.wait_for_selector("#pin")
    for digit in PIN:
        page.click(f".pad button:text-is('{digit}')")
    assert page.input_value("#pin") == PIN
    page.click(".pad button[aria-label=Borrar]")
    assert page.input_value("#pin") == PIN[:-1]
    page.click(".pad button:text-is('3')")
    keys = page.eval_on_selector_all(".pad button", "(b) => b.map((x) => x.getBoundingClientRect().toJSON())")
    height = page.viewport_size["height"]
    assert all(k["height"] >= 48 and k["width"] >= 48 for k in keys)
    assert all(k["top"] >= height * 0.35 and k["bottom"] <= height for k in keys)  # the lower part of the screen
    assert page.inner_text("h1") == "Notas"
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], [v["id"] for v in serious]
    page.click(".pad button.primary")
    page.wait_for_selector("h1:text('Informes')")
    page.click("[data-quick-exit]")
    page.wait_for_selector("#pin")
    page.click("text=Olvidé el PIN")
    page.click("text=Borrar y empezar de nuevo")
    page.wait_for_selector("text=Nada por aquí todavía.")
    results = Axe().run(page)
    assert [v["id"] for v in results.response["violations"] if v["impact"] in ("serious", "critical")] == []


def test_quick_exit_works_while_a_question_is_open(page, live_server) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    enrol(page, live_server)
    page.click("text=Nuevo informe")
    page.fill("#f-notes", canary)
    page.click("text=Descartar")  # "¿Descartar este informe?" is asked on top of the form
    page.wait_for_selector("dialog[open]")
    for _ in range(3):
        page.click("#confirm-question")
    page.wait_for_selector("#pin")
    assert not page.is_visible("dialog") and canary not in page.content()
    open_app(page)
    page.click("text=Seguir el borrador")  # nothing was discarded: the answers wait as a draft
    assert page.input_value("#f-notes") == canary


SCREENS_STATE = """
async () => {
  const db = await import("/static/js/db.js");
  const lock = (await db.getSetting("lock")) || {};
  const names = [];
  for (const name of await caches.keys()) {
    for (const request of await (await caches.open(name)).keys()) names.push(new URL(request.url).pathname);
  }
  const sealed = [];
  for (const key of ["home.js", "report.js", "attachments.js"]) {
    if (names.includes(`/static/js/ui/${key}`)) sealed.push(key);
  }
  const stored = await new Promise((resolve) => {
    const request = indexedDB.open("local");
    request.onsuccess = () => {
      const tx = request.result.transaction("prefs");
      const keys = tx.objectStore("prefs").getAllKeys();
      keys.onsuccess = () => resolve(keys.result.filter((k) => String(k).startsWith("screens-")));
    };
  });
  const entry = stored.length ? await db.getSetting(stored[0]) : null;
  const to = entry ? Array.from(entry.to).join(".") : null;
  const pub = lock.phone ? Array.from(lock.phone.pub).join(".") : null;
  return { cachedInTheClear: sealed, stored, sealedToThisPhone: to !== null && to === pub };
}
"""


def test_the_screens_that_tell_its_purpose_open_offline_only_with_the_pin_even_after_a_new_enrolment(
    page, context, live_server
) -> None:
    enrol(page, live_server)
    wait_for_service_worker(page)
    state = page.evaluate(SCREENS_STATE)
    assert state["cachedInTheClear"] == [] and len(state["stored"]) == 1 and state["sealedToThisPhone"]
    # A forgotten PIN: wiped, a new code, a new PIN, so a new phone key: the screens are sealed to it anew.
    page.click("[data-quick-exit]")
    page.click("text=Olvidé el PIN")
    page.click("text=Borrar y empezar de nuevo")
    page.click("text=Ajustes")
    page.fill("#code", live_server.enrollment_code())
    page.click("text=Conectar este teléfono")
    choose_pin(page)
    page.wait_for_selector("h1:text('Informes')")
    state = page.evaluate(SCREENS_STATE)
    assert state["cachedInTheClear"] == [] and len(state["stored"]) == 1 and state["sealedToThisPhone"]
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("#pin")  # locked, the worker cannot open them for anyone
    for path in ("/static/js/ui/home.js", "/static/js/ui/report.js", "/static/js/ui/attachments.js"):
        answer = page.evaluate("async (p) => { try { return (await fetch(p)).status; } catch { return 0; } }", path)
        assert answer == 0, path  # not from a cache; the network is down
    open_app(page)
    page.wait_for_selector("h1:text('Informes')")
    page.click("text=Nuevo informe")  # report.js, sealed too, came with it
    page.wait_for_selector("#f-notes")


def test_the_calculator_look_locks_as_a_calculator_that_works(page, live_server) -> None:
    enrol(page, live_server, look="calculadora")
    page.click("[data-quick-exit]")
    page.wait_for_selector(".pad.calculator")
    assert page.title() == "Calculadora" and "PIN" not in page.inner_text("body")

    def press(keys: str) -> str:
        for key in keys:
            page.click(f".pad.calculator button:text-is('{key}')")
        return page.inner_text("output.display")

    assert press("12+3×4=") == "24"  # × before +
    assert press("C7÷2−.5=") == "3"
    assert press("C5÷0=") == "Error"
    assert press("C111111=") == "111111"  # a wrong PIN is just a number
    failures = "async () => ((await (await import('/static/js/db.js')).getSetting('pinFailures')) || {}).count || 0"
    wait_until(page, f"async () => (await ({failures})()) === 1")  # and it counts
    results = Axe().run(page)
    assert [v["id"] for v in results.response["violations"] if v["impact"] in ("serious", "critical")] == []
    clear = page.locator(".pad.calculator button:text-is('C')")  # held: the PIN screen, for a passphrase
    box = clear.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.wait_for_selector("#pin", timeout=5000)
    page.mouse.up()
    assert page.is_visible("text=Olvidé el PIN")
    page.reload()
    open_app(page)  # the PIN, then "="
    page.wait_for_selector("h1:text('Informes')")


def test_a_new_version_installed_while_the_phone_had_no_key_opens_offline_after_it_takes_over(
    page, context, live_server, monkeypatch
) -> None:
    from fieldapp.web import precache

    enrol(page, live_server)
    wait_for_service_worker(page)
    page.click("[data-quick-exit]")
    page.click("text=Olvidé el PIN")
    page.click("text=Borrar y empezar de nuevo")  # no phone key now
    page.wait_for_selector("text=Nada por aquí todavía.")
    monkeypatch.setattr(precache, "version", lambda app, files=None: "nueva-version")
    page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
    page.wait_for_function("navigator.serviceWorker.getRegistration().then((r) => r.waiting !== null)")
    page.click("text=Ajustes")
    page.fill("#code", live_server.enrollment_code())
    page.click("text=Conectar este teléfono")
    choose_pin(page)
    page.wait_for_selector("h1:text('Informes')")
    sealed_for_the_new_one = """async () => {
      const entry = await (await import('/static/js/db.js')).getSetting('screens-nueva-version');
      const lock = await (await import('/static/js/db.js')).getSetting('lock');
      return Boolean(entry && lock && entry.to.join() === lock.phone.pub.join());
    }"""
    wait_until(page, sealed_for_the_new_one)  # the waiting version sealed its screens to the new key too
    context.set_offline(True)
    page.click("text=Actualizar")  # it takes over offline
    page.wait_for_function("() => caches.keys().then((k) => k.join() === 'shell-nueva-version')")
    open_app(page)
    page.wait_for_selector("h1:text('Informes')")
    page.click("text=Nuevo informe")
    page.wait_for_selector("#f-notes")
