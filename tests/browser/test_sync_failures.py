"""Sync under failure: a lost answer, a server that is down, a page closed mid-batch. Never lost, never doubled."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import Report

from .conftest import PHONE_LOCALE, enrol, queued, save_report, wait_for_queued

OUTBOX_RIDS = "async () => (await (await import('/static/js/db.js')).outboxEntries()).map((e) => e.rid)"


@pytest.fixture
def api_context(browser):  # type: ignore[no-untyped-def]
    # Routing sees the page's own requests; the service worker is not what these tests are about.
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, service_workers="block", locale=PHONE_LOCALE)
    yield ctx
    ctx.close()


def stored_count(live_server, rids: list[str]) -> dict[str, int]:
    with live_server.app.app_context():
        rows = db.session.execute(
            select(Report.rid, func.count()).where(Report.rid.in_(rids)).group_by(Report.rid)
        ).all()
        db.session.remove()
    return {rid: count for rid, count in rows}


def wait_until(page, condition, seconds: float = 10) -> None:  # type: ignore[no-untyped-def]
    """Lets Playwright run route handlers while waiting for something they record."""
    for _ in range(int(seconds * 20)):
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError("condition not met in time")


def queue_offline(page, context, live_server, count: int) -> list[str]:
    enrol(page, live_server)
    return queue_offline_enrolled(page, context, count)


def queue_offline_enrolled(page, context, count: int) -> list[str]:
    context.set_offline(True)
    for i in range(count):
        save_report(page, f"{uuid.uuid4().hex} {i}", quick=True)
    wait_for_queued(page, count)
    return page.evaluate(OUTBOX_RIDS)


def test_answer_lost_after_the_server_stored_the_batch(api_context, live_server) -> None:
    page = api_context.new_page()
    rids = queue_offline(page, api_context, live_server, 3)
    lost = []

    def lose_first_answer(route) -> None:  # type: ignore[no-untyped-def]
        if not lost:
            route.fetch()  # the request reaches the server, which stores the batch
            lost.append(True)
            route.abort("connectionreset")  # ... and its answer never reaches the phone
        else:
            route.continue_()

    page.route("**/api/v1/reports", lose_first_answer)
    api_context.set_offline(False)
    wait_until(page, lambda: lost)
    page.wait_for_timeout(200)  # the phone sees the cut, not an answer (its retry comes seconds later)
    assert sorted(page.evaluate(OUTBOX_RIDS)) == sorted(rids)  # so it kept every report
    wait_for_queued(page, 0, timeout=30000)
    assert stored_count(live_server, rids) == {rid: 1 for rid in rids}


@pytest.mark.parametrize("failure", ["503", "timed out"])
def test_server_down_then_back_without_reload(api_context, live_server, failure) -> None:
    page = api_context.new_page()
    rids = queue_offline(page, api_context, live_server, 2)
    failures = []

    def unavailable_twice(route) -> None:  # type: ignore[no-untyped-def]
        if len(failures) < 2:
            failures.append(True)
            if failure == "timed out":
                route.abort("timedout")
                return
            body = json.dumps({"type": "about:blank", "title": "Servicio no disponible", "status": 503})
            route.fulfill(status=503, content_type="application/problem+json", body=body)
        else:
            route.continue_()

    page.route("**/api/v1/reports", unavailable_twice)
    api_context.set_offline(False)
    wait_until(page, lambda: failures)
    message = "El servidor no está disponible" if failure == "503" else "Sin conexión"
    page.wait_for_selector(f"text={message}")
    assert queued(page) == 2  # a 5xx is not delivered
    wait_for_queued(page, 0, timeout=30000)  # the backoff retried by itself
    assert len(failures) == 2
    assert stored_count(live_server, rids) == {rid: 1 for rid in rids}


def test_page_closed_while_a_batch_is_in_flight(api_context, live_server) -> None:
    page = api_context.new_page()
    rids = queue_offline(page, api_context, live_server, 3)
    held = []

    def hold(route) -> None:  # type: ignore[no-untyped-def]
        route.fetch()  # stored on the server; the answer is held until the page is gone
        held.append(route)

    page.route("**/api/v1/reports", hold)
    api_context.set_offline(False)
    wait_until(page, lambda: held)
    page.close()
    reopened = api_context.new_page()
    reopened.route("**/api/v1/reports", lambda route: route.abort())
    reopened.goto(live_server.url + "/")
    reopened.wait_for_selector("h1:text('Informes')")
    assert sorted(reopened.evaluate(OUTBOX_RIDS)) == sorted(rids)  # nothing was forgotten with the page
    reopened.unroute("**/api/v1/reports")
    reopened.click("text=Enviar ahora")
    wait_for_queued(reopened, 0, timeout=30000)
    assert stored_count(live_server, rids) == {rid: 1 for rid in rids}


def test_background_sync_sends_with_the_app_closed(context, live_server) -> None:
    page = context.new_page()
    enrol(page, live_server)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15000)
    rids = queue_offline_enrolled(page, context, 2)
    page.close()  # the app is closed; only the service worker remains
    context.set_offline(False)  # the browser fires the pending sync when the network returns
    deadline = time.monotonic() + 15
    while stored_count(live_server, rids) != {rid: 1 for rid in rids} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stored_count(live_server, rids) == {rid: 1 for rid in rids}


def test_revoked_phone_keeps_its_reports_and_says_so(api_context, live_server) -> None:
    from fieldapp.services import devices

    page = api_context.new_page()
    rids = queue_offline(page, api_context, live_server, 1)
    with live_server.app.app_context():
        newest = max(devices.list_devices(db.session), key=lambda d: d.id)
        devices.revoke(db.session, newest.id)
        db.session.commit()
    api_context.set_offline(False)
    page.click("text=Enviar ahora")
    page.wait_for_selector("text=Este teléfono fue desconectado del equipo")
    assert page.evaluate(OUTBOX_RIDS) == rids and queued(page) == 1
    assert stored_count(live_server, rids) == {}


def test_minors_are_flagged(context, live_server, tmp_path) -> None:
    from .conftest import exported_documents

    page = context.new_page()
    enrol(page, live_server)
    tag = uuid.uuid4().hex
    page.click("text=Nuevo informe")
    page.select_option("#f-department", "21")
    page.select_option("#f-province", "2110")
    page.check("input[name=place_kind][value=mining_camp]")
    page.check("input[name=exploitation_type][value=SexualExploitation]")
    page.check("input[name=age_band][value='14_17']")
    page.check("input[name=age_band][value='18_24']")
    page.fill("#f-notes", tag)
    assert page.is_hidden("[data-field=sector]")  # only for forced labour
    page.click("text=Guardar y cifrar")
    page.wait_for_selector("text=Informe guardado y cifrado")
    wait_for_queued(page, 0)
    [doc] = [d for d in exported_documents(live_server, tmp_path) if d["answers"].get("notes") == tag]
    assert doc["answers"]["minors"] is True and doc["answers"]["age_band"] == ["14_17", "18_24"]
    assert doc["answers"]["province"] == "2110"


def test_rejected_report_stays_visible_with_the_reason(api_context, live_server) -> None:
    page = api_context.new_page()
    [rid] = queue_offline(page, api_context, live_server, 1)
    reason = "Ya se recibió otro informe con el mismo identificador; se conserva el primero."

    def reject(route) -> None:  # type: ignore[no-untyped-def]
        body = json.dumps({"results": [{"rid": rid, "status": "rejected", "error": reason}]})
        route.fulfill(status=200, content_type="application/json", body=body)

    page.route("**/api/v1/reports", reject)
    api_context.set_offline(False)
    page.wait_for_selector("text=1 informe no aceptado por el servidor")
    assert reason in page.inner_text("main")
    assert queued(page) == 0  # not sent again and again...
    entries = page.evaluate("async () => (await import('/static/js/db.js')).outboxEntries()")
    assert [(e["rid"], e["state"], e["error"]) for e in entries] == [(rid, "rejected", reason)]  # ...nor dropped


def test_an_answer_that_does_not_match_the_batch_deletes_nothing(api_context, live_server) -> None:
    page = api_context.new_page()
    rids = queue_offline(page, api_context, live_server, 2)
    answered = []

    def wrong_rids(route) -> None:  # type: ignore[no-untyped-def]
        answered.append(True)
        body = json.dumps({"results": [{"rid": str(uuid.uuid4()), "status": "stored"} for _ in rids]})
        route.fulfill(status=200, content_type="application/json", body=body)

    page.route("**/api/v1/reports", wrong_rids)
    api_context.set_offline(False)
    wait_until(page, lambda: answered)
    page.wait_for_timeout(300)
    assert sorted(page.evaluate(OUTBOX_RIDS)) == sorted(rids)
