"""Enrolling a phone on a bad line: the code survives a refusal and a lost answer, in the worker's language."""

from __future__ import annotations

import re

from .conftest import PHONE_LOCALE, choose_pin, wait_until


def test_the_language_can_be_picked_before_enrolling(page, live_server) -> None:
    page.goto(live_server.url + "/")
    page.fill("#code", "8HAV-8PKE-PY")
    page.select_option("#language", "en")
    page.wait_for_selector("label[for=code]:text('Enrollment code')")
    assert page.input_value("#code") == "8HAV-8PKE-PY"  # what was typed stays


def test_a_refused_code_stays_typed(page, live_server) -> None:
    page.goto(live_server.url + "/")
    page.fill("#code", "AAAA-BBBB-CC")
    page.click("text=Conectar este teléfono")
    page.wait_for_selector("text=El código no es válido, ya se usó o caducó.")
    assert page.input_value("#code") == "AAAA-BBBB-CC"


def test_a_lost_enrolment_answer_is_retried_as_the_same_enrolment(browser, live_server) -> None:
    """The server answers a retry of the same code and enrollment_id, before the token was used, with a fresh
    token for the same phone: the lost answer does not spend the code."""
    context = browser.new_context(service_workers="block", locale=PHONE_LOCALE)
    page = context.new_page()
    code = live_server.enrollment_code()
    sent = []

    def lose_two_answers(route) -> None:  # type: ignore[no-untyped-def]
        sent.append(route.request.post_data_json)
        if len(sent) == 1:
            route.fetch()  # the server spent the code and made the phone...
            route.abort("connectionreset")  # ... and its answer is lost
        elif len(sent) == 2:
            route.abort("connectionreset")  # lost again, before it reached the server
        else:
            route.continue_()

    page.route("**/api/v1/enroll", lose_two_answers)
    page.goto(live_server.url + "/")
    page.fill("#code", code)
    page.click("text=Conectar este teléfono")
    page.wait_for_selector("text=No hay conexión con el servidor")
    assert page.input_value("#code") == code
    page.reload()  # the phone was closed in between, and the code typed again
    page.fill("#code", code.lower())
    page.click("text=Conectar este teléfono")
    page.wait_for_selector("text=No hay conexión con el servidor")
    page.click("button:text('Reintentar')")
    choose_pin(page)
    ids = {body["enrollment_id"] for body in sent}
    assert len(sent) == 3 and len(ids) == 1
    assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", ids.pop())
    assert page.evaluate("async () => (await import('/static/js/db.js')).getSetting('enrollment')") is None
    wait_until(page, "async () => Boolean(await (await import('/static/js/db.js')).getSetting('bootstrap'))")
    context.close()


def test_a_new_code_is_a_new_enrolment(page, live_server) -> None:
    sent = []
    page.route("**/api/v1/enroll", lambda route: (sent.append(route.request.post_data_json), route.continue_()))
    page.goto(live_server.url + "/")
    for tries, code in enumerate(("AAAA-BBBB-CC", "DDDD-EEEE-FF"), 1):
        page.fill("#code", code)
        page.click("button[type=submit]")
        while len(sent) < tries:
            page.wait_for_timeout(50)
        page.wait_for_selector("text=El código no es válido")
    assert len({body["enrollment_id"] for body in sent}) == 2


def test_a_language_not_on_the_phone_yet_says_so_before_enrolling(browser, live_server) -> None:
    # No service worker yet (its cache would hold the catalog), and no signal for the catalog.
    context = browser.new_context(service_workers="block", locale=PHONE_LOCALE)
    page = context.new_page()
    page.route("**/i18n/en.json", lambda route: route.abort("internetdisconnected"))
    page.goto(live_server.url + "/")
    page.fill("#code", "8HAV-8PKE-PY")
    page.select_option("#language", "en")
    page.wait_for_selector("text=Ese idioma no está en el teléfono todavía")
    assert page.input_value("#code") == "8HAV-8PKE-PY"
    context.close()
