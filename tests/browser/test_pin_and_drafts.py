"""The PIN lock and encrypted drafts as a field worker meets them, in a real Chromium: a draft that outlives the
browser and comes back after the PIN, sealed on storage; wrong PINs that make the phone wait and then wipe it
while the sealed outbox survives and syncs; a report saved from a resumed draft by a double tap, stored once."""

from __future__ import annotations

import uuid

from .conftest import CHROMIUM, CHROMIUM_ARGS, PHONE_LOCALE, enrol, exported_documents, open_app, wait_until

RAW_STORAGE = """
async () => {
  const db = await import("/static/js/db.js");
  const drafts = await db.draftEntries();
  const text = (value) => JSON.stringify(value, (k, v) => (v instanceof Uint8Array ? Array.from(v) : v));
  return { drafts: drafts.length, raw: text(drafts) + text(await db.getSetting("lock")) };
}
"""


def wait_for_drafts(page, count: int) -> None:  # type: ignore[no-untyped-def]
    wait_until(page, f"async () => (await (await import('/static/js/db.js')).draftEntries()).length === {count}")


def fill_some(page, canary: str) -> None:  # type: ignore[no-untyped-def]
    page.click("text=Nuevo informe")
    page.select_option("#f-department", "17")
    page.check("input[name=place_kind][value=mining_camp]")
    page.fill("#f-notes", canary)


def test_a_draft_outlives_the_browser_sealed_and_comes_back_after_the_pin(playwright, live_server, tmp_path) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    profile = tmp_path / "profile"

    def phone():  # type: ignore[no-untyped-def]
        return playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            viewport={"width": 360, "height": 740},
            locale=PHONE_LOCALE,
        )

    ctx = phone()
    page = ctx.pages[0] if ctx.pages else ctx.new_page()
    enrol(page, live_server)
    fill_some(page, canary)
    wait_for_drafts(page, 1)
    page.wait_for_timeout(800)  # the last keystroke's write, within the second
    stored = page.evaluate(RAW_STORAGE)
    assert stored["drafts"] == 1 and canary not in stored["raw"]
    ctx.close()  # the tab killed, the phone switched off

    ctx = phone()
    page = ctx.pages[0] if ctx.pages else ctx.new_page()
    page.goto(live_server.url + "/")
    open_app(page)
    page.click("text=Seguir el borrador")
    assert page.input_value("#f-notes") == canary
    assert page.input_value("#f-department") == "17"
    assert page.is_checked("input[name=place_kind][value=mining_camp]")
    ctx.close()


def test_wrong_pins_make_the_phone_wait_then_wipe_it_and_the_outbox_still_syncs(page, context, live_server, tmp_path):  # type: ignore[no-untyped-def]
    canary = f"canary-{uuid.uuid4().hex}"
    enrol(page, live_server)
    context.set_offline(True)
    page.click("text=Informe rápido")
    page.select_option("#f-department", "17")
    page.check("input[name=place_kind][value=mining_camp]")
    page.check("input[name=exploitation_type][value=ForcedLabour]")
    page.click("text=Guardar y cifrar")
    page.wait_for_selector("text=Informe guardado y cifrado")
    fill_some(page, canary)
    wait_for_drafts(page, 1)
    page.reload()
    for _ in range(3):  # the first three wrong ones cost nothing
        page.fill("#pin", "000000")
        page.click("form.pin-form button.primary")
        page.wait_for_selector("text=PIN incorrecto")
    page.fill("#pin", "000000")  # the fourth is refused until the wait is over
    page.click("form.pin-form button.primary")
    page.wait_for_selector("text=Espere")
    # Nine wrong PINs so far, as if the waits had passed: the tenth wipes.
    page.evaluate("async () => (await import('/static/js/db.js')).setSetting('pinFailures', { count: 9, at: 0 })")
    page.fill("#pin", "000000")
    page.click("form.pin-form button.primary")
    page.wait_for_selector("text=Nada por aquí todavía.")  # an empty app, under its look
    left = page.evaluate(
        """async () => {
          const db = await import("/static/js/db.js");
          return { outbox: (await db.outboxEntries()).length, drafts: (await db.draftEntries()).length,
                   lock: (await db.getSetting("lock")) ?? null, team: (await db.getSetting("team")) ?? null,
                   bootstrap: (await db.getSetting("bootstrap")) ?? null };
        }"""
    )
    assert left == {"outbox": 1, "drafts": 0, "lock": None, "team": None, "bootstrap": None}
    page.reload()
    page.wait_for_selector("text=Nada por aquí todavía.")  # a wiped phone asks for no PIN, and says nothing
    page.click("text=Ajustes")
    page.wait_for_selector("#code")  # where the worker types a new code
    context.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    wait_until(page, "async () => (await (await import('/static/js/db.js')).outboxEntries()).length === 0", 30)
    assert any(d["answers"].get("place_kind") == "mining_camp" for d in exported_documents(live_server, tmp_path))
    assert (
        page.evaluate("async () => (await (await import('/static/js/db.js')).getSetting('bootstrap')) ?? null") is None
    )


def test_a_double_tap_on_a_resumed_draft_stores_one_report(page, live_server) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    enrol(page, live_server)
    fill_some(page, canary)
    page.check("input[name=exploitation_type][value=ForcedLabour]")
    wait_for_drafts(page, 1)
    draft_rid = page.evaluate("async () => (await (await import('/static/js/db.js')).draftEntries())[0].id")
    page.reload()
    open_app(page)
    page.click("text=Seguir el borrador")
    page.check("input[name=sector][value=B_MiningAndQuarrying]")
    page.dblclick("text=Guardar y cifrar")
    page.wait_for_selector("text=Informe guardado y cifrado")
    stored = page.evaluate(
        """async () => {
          const db = await import("/static/js/db.js");
          return { outbox: (await db.outboxEntries()).map((e) => e.rid), drafts: (await db.draftEntries()).length };
        }"""
    )
    assert stored["drafts"] == 0 and stored["outbox"] in ([draft_rid], [])  # [] once it has already synced
    wait_until(page, "async () => (await (await import('/static/js/db.js')).outboxEntries()).length === 0", 30)
    assert not page.is_visible("text=Borradores")
    from fieldapp.extensions import db
    from fieldapp.models import Report

    with live_server.app.app_context():
        assert db.session.query(Report).filter_by(rid=draft_rid).count() == 1
        db.session.remove()


HIDE_FOR = """
async (ms) => {
  const state = (value) => Object.defineProperty(document, "visibilityState", { value, configurable: true });
  state("hidden");
  document.dispatchEvent(new Event("visibilitychange"));
  const realNow = Date.now;
  Date.now = () => realNow() + ms;  // the phone spent that long in a pocket
  state("visible");
  document.dispatchEvent(new Event("visibilitychange"));
  Date.now = realNow;
}
"""


def test_hidden_over_two_minutes_the_phone_locks_and_the_open_form_waits_as_a_draft(page, live_server) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    enrol(page, live_server)
    fill_some(page, canary)
    wait_for_drafts(page, 1)
    page.evaluate(HIDE_FOR, 60_000)  # a minute away: still open
    assert page.input_value("#f-notes") == canary
    page.evaluate(HIDE_FOR, 3 * 60_000)
    page.wait_for_selector("#pin")
    assert canary not in page.content()  # what was on screen went with the key
    open_app(page)
    page.click("text=Seguir el borrador")
    assert page.input_value("#f-notes") == canary
