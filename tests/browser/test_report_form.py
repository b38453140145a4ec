"""The report form as a worker handles it: one report per form whatever the taps, nothing lost in silence."""

from __future__ import annotations

from .conftest import enrol, queued, wait_for_queued

OUTBOX = "async () => (await (await import('/static/js/db.js')).outboxEntries()).map((e) => e.rid)"

FULL_STORAGE = """() => {
  // The phone's storage is full: the outbox write fails as Chromium fails it.
  window.realAdd = IDBObjectStore.prototype.add;
  IDBObjectStore.prototype.add = function () {
    throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
  };
}"""


def fill_quick_report(page) -> None:  # type: ignore[no-untyped-def]
    page.click("text=Informe rápido")
    page.select_option("#f-department", "17")
    page.check("input[name=place_kind][value=mining_camp]")
    page.check("input[name=exploitation_type][value=ForcedLabour]")


def test_the_home_screen_shows_no_placeholder_words(context, live_server) -> None:
    page = context.new_page()
    page.goto(live_server.url + "/")
    page.wait_for_selector("#code")
    assert "null" not in page.inner_text("main")
    enrol(page, live_server)
    assert "null" not in page.inner_text("main")


def test_a_double_tap_on_save_saves_one_report(context, live_server) -> None:
    page = context.new_page()
    enrol(page, live_server)
    context.set_offline(True)
    fill_quick_report(page)
    page.dblclick("text=Guardar y cifrar")
    page.wait_for_selector("text=Informe guardado y cifrado")
    page.wait_for_timeout(500)  # a second save, if any, has landed by now
    assert len(page.evaluate(OUTBOX)) == 1 and queued(page) == 1


def test_saving_the_same_report_twice_keeps_one(context, live_server) -> None:
    page = context.new_page()
    enrol(page, live_server)
    kept = page.evaluate(
        """async () => {
            const db = await import('/static/js/db.js');
            const rid = crypto.randomUUID();
            await db.addToOutbox({ v: 1, rid, ct: 'first' }, '2026-12-01');
            await db.addToOutbox({ v: 1, rid, ct: 'second' }, '2026-12-01');
            const mine = (await db.outboxEntries()).filter((e) => e.rid === rid);
            await db.removeFromOutbox([rid]);
            return mine.map((e) => e.envelope.ct);
        }"""
    )
    assert kept == ["first"]


def test_a_full_phone_says_so_and_keeps_the_answers(context, live_server) -> None:
    page = context.new_page()
    enrol(page, live_server)
    context.set_offline(True)
    fill_quick_report(page)
    page.evaluate(FULL_STORAGE)
    page.click("text=Guardar y cifrar")
    page.wait_for_selector("text=El teléfono no tiene espacio libre")
    assert page.evaluate(OUTBOX) == []  # nothing half-saved
    assert page.is_checked("input[name=place_kind][value=mining_camp]")  # the answers are still there
    page.evaluate("() => { IDBObjectStore.prototype.add = window.realAdd; }")  # the worker made room
    page.click("button:text('Guardar y cifrar')")
    page.wait_for_selector("text=Informe guardado y cifrado")
    assert len(page.evaluate(OUTBOX)) == 1


def test_discarding_a_form_with_answers_asks_first(context, live_server) -> None:
    page = context.new_page()
    enrol(page, live_server)
    page.click("text=Nuevo informe")
    page.click("text=Descartar")  # nothing answered yet: nothing to ask
    page.wait_for_selector("h1:text('Informes')")
    page.click("text=Nuevo informe")
    page.fill("#f-notes", "a medio escribir")
    page.click("form >> text=Descartar")
    page.wait_for_selector("dialog >> text=¿Descartar este informe?")
    page.click("dialog >> text=Seguir con el informe")
    assert page.input_value("#f-notes") == "a medio escribir"
    page.click("form >> text=Descartar")
    page.click("dialog >> button:text('Descartar')")
    page.wait_for_selector("h1:text('Informes')")
    assert page.query_selector("dialog") is None


def test_back_from_a_form_goes_home_inside_the_app(context, live_server) -> None:
    page = context.new_page()
    enrol(page, live_server)
    app = page.url
    page.click("text=Nuevo informe")
    page.wait_for_selector("#f-notes")
    page.go_back()
    page.wait_for_selector("h1:text('Informes')")
    assert page.url == app
    page.click("text=Nuevo informe")
    page.fill("#f-notes", "a medio escribir")
    page.go_back()
    page.wait_for_selector("dialog >> text=¿Descartar este informe?")
    page.click("dialog >> text=Seguir con el informe")
    assert page.input_value("#f-notes") == "a medio escribir" and page.url == app
    page.go_back()
    page.click("dialog >> button:text('Descartar')")
    page.wait_for_selector("h1:text('Informes')")
    assert page.url == app
    wait_for_queued(page, 0)


def test_notes_show_what_is_left_and_stop_at_the_limit(context, live_server) -> None:
    page = context.new_page()
    enrol(page, live_server)
    page.click("text=Nuevo informe")
    counter = page.locator("[data-field=notes] [data-testid=counter]")
    assert counter.inner_text() == "Quedan 4,000 caracteres de 4,000."  # numbers as es-PE writes them
    page.fill("#f-notes", "x" * 3999)
    assert counter.inner_text() == "Queda 1 carácter de 4,000."
    page.fill("#f-notes", "x" * 4100)  # a long paste
    assert len(page.input_value("#f-notes")) == 4000
    assert counter.inner_text() == "Llegó al límite de 4,000 caracteres: no se puede escribir más."


def test_a_new_report_opened_right_after_a_save_stays_open(page, live_server) -> None:
    """A save steps back over the form's history entry; a slow step must not close the next form."""
    enrol(page, live_server)
    page.evaluate("() => { const back = history.back.bind(history); history.back = () => setTimeout(back, 5000); }")
    fill_quick_report(page)
    page.click("text=Guardar y cifrar")
    page.wait_for_selector("text=Informe guardado y cifrado")
    wait_for_queued(page, 0)  # the home screen settled (a redraw under a tap moves the button away)
    page.click("text=Informe rápido")  # before the step back has arrived
    page.wait_for_selector("#f-department")
    page.wait_for_timeout(5500)
    assert page.is_visible("#f-department")  # still the new form
    page.go_back()  # and Back still leaves it, as before
    page.wait_for_selector("h1:text('Informes')")
