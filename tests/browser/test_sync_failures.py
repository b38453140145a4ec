"""Sync under failure: a lost answer, a server that is down, a page closed mid-batch. Never lost, never doubled."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from sqlalchemy import func, select

from fieldapp import crypto
from fieldapp.crypto import signing
from fieldapp.extensions import db
from fieldapp.models import Report

from .conftest import PHONE_LOCALE, enrol, open_app, queued, save_report, wait_for_queued

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
    message = "Servidor ocupado, se reintentará" if failure == "503" else "Sin conexión"
    page.wait_for_selector(f".waiting:text('{message}')")  # it will be tried again: not shown as a failure
    assert page.query_selector("main .error") is None
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
    open_app(reopened)
    assert sorted(reopened.evaluate(OUTBOX_RIDS)) == sorted(rids)  # nothing was forgotten with the page
    reopened.unroute("**/api/v1/reports")
    # What "Enviar ahora" does (the outbox's own retry may come first and leave no button to tap).
    reopened.evaluate("async () => (await import('/static/js/sync.js')).outbox.sendNow()")
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
        devices.revoke(db.session, newest.id, wipe=False)  # revoked only: not asked to wipe itself
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
    entries = page.evaluate(
        """async () => {
          const [db, kept] = [await import("/static/js/db.js"), await import("/static/js/kept.js")];
          const stored = await db.outboxEntries();
          const opened = await Promise.all(stored.map(kept.openEntry));
          return { sealed: stored.every((e) => e.error && e.error.epk), opened };
        }"""
    )
    assert entries["sealed"]  # the reason is sealed to the phone's key on storage...
    opened = [(e["rid"], e["state"], e["error"]) for e in entries["opened"]]
    assert opened == [(rid, "rejected", reason)]  # ...nor dropped


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


def garbled(kind: str, real: dict, rids: list[str]) -> str:
    """The server's real answer as a middlebox or a broken link might hand it over."""
    results = real["results"]
    if kind == "unknown status":
        results[-1]["status"] = "accepted"
    elif kind == "rejected for no rid":
        results[-1] = {"rid": None, "status": "rejected", "error": "?"}
    elif kind == "result missing":
        results.pop()
    elif kind == "rid of another report":
        results[-1]["rid"] = str(uuid.uuid4())
    elif kind == "not the expected JSON":
        return json.dumps({"ok": True})
    elif kind == "truncated":
        return json.dumps(real)[:25]
    return json.dumps({"results": results})


@pytest.mark.parametrize(
    "kind",
    [
        "unknown status",
        "rejected for no rid",
        "result missing",
        "rid of another report",
        "not the expected JSON",
        "truncated",
    ],
)
def test_an_answer_that_cannot_be_read_is_retried_never_rejected(api_context, live_server, kind) -> None:
    page = api_context.new_page()
    rids = queue_offline(page, api_context, live_server, 2)
    answered = []

    def garble_first_answer(route) -> None:  # type: ignore[no-untyped-def]
        if answered:
            route.continue_()
            return
        real = route.fetch()  # the server stored the batch; what reaches the phone is garbled
        answered.append(True)
        route.fulfill(status=200, content_type="application/json", body=garbled(kind, real.json(), rids))

    page.route("**/api/v1/reports", garble_first_answer)
    api_context.set_offline(False)
    wait_until(page, lambda: answered)
    page.wait_for_timeout(300)
    entries = page.evaluate("async () => (await import('/static/js/db.js')).outboxEntries()")
    assert [e["rid"] for e in entries if e["state"] != "queued"] == []  # nothing taken as a rejection
    wait_for_queued(page, 0, timeout=30000)  # sent again later, and the server says "duplicate"
    assert page.evaluate(OUTBOX_RIDS) == []
    assert stored_count(live_server, rids) == {rid: 1 for rid in rids}


def hold_first_request(page, live_server):  # type: ignore[no-untyped-def]
    """The first batch reaches the server and is stored; its answer is held back for good."""
    held = []

    def hold(route) -> None:  # type: ignore[no-untyped-def]
        if held:
            route.continue_()
            return
        route.fetch()
        held.append(route)

    page.route("**/api/v1/reports", hold)
    return held


def test_a_stalled_answer_is_abandoned_when_the_connection_returns(api_context, live_server) -> None:
    page = api_context.new_page()
    rids = queue_offline(page, api_context, live_server, 2)
    held = hold_first_request(page, live_server)
    api_context.set_offline(False)
    wait_until(page, lambda: held)
    api_context.set_offline(True)
    api_context.set_offline(False)
    wait_for_queued(page, 0, timeout=5000)  # not the old request's two minutes
    assert stored_count(live_server, rids) == {rid: 1 for rid in rids}
    save_report(page, uuid.uuid4().hex, quick=True)  # and the outbox is not stuck behind it
    wait_for_queued(page, 0, timeout=5000)


def test_send_now_abandons_a_stalled_answer(api_context, live_server) -> None:
    page = api_context.new_page()
    rids = queue_offline(page, api_context, live_server, 2)
    held = hold_first_request(page, live_server)
    api_context.set_offline(False)
    wait_until(page, lambda: held)
    page.wait_for_selector("text=El servidor tarda en responder", timeout=15000)
    page.click("button:text('Enviar ahora')")  # offered again once the answer is overdue
    wait_for_queued(page, 0, timeout=5000)
    assert stored_count(live_server, rids) == {rid: 1 for rid in rids}


def test_the_upload_timeout_fits_the_batch_on_a_slow_link(api_context, live_server) -> None:
    page = api_context.new_page()
    page.goto(live_server.url + "/")
    timeouts = page.evaluate(
        """async () => {
            const { uploadTimeoutMs } = await import('/static/js/api.js');
            return [1000, 100 * 1024, 4 * 1024 * 1024].map(uploadTimeoutMs);
        }"""
    )
    small, batch, huge = timeouts
    assert 15000 <= small <= 16000  # a few reports: a short wait, not two minutes
    assert 60000 <= batch <= 70000  # 100 KB at 2 KB/s, and the base
    assert huge == 300000  # capped
    v1_chunk, v2_chunk = page.evaluate(
        """async () => {
            const { chunkTimeoutMs } = await import('/static/js/api.js');
            return [262160, 65552].map((bytes) => chunkTimeoutMs(bytes));
        }"""
    )
    assert v2_chunk == 15000 + 64016 and v1_chunk == 15000 + 256016  # the body at 1 KB/s: 8 kbit/s still finishes


def test_each_batch_can_cross_the_slowest_link_before_its_timeout(api_context, live_server) -> None:
    page = api_context.new_page()
    page.goto(live_server.url + "/")
    batches = page.evaluate(
        """async () => {
            const { batchesOf } = await import('/static/js/outbox.js');
            const { uploadTimeoutMs } = await import('/static/js/api.js');
            const big = (i) => ({ rid: String(i), envelope: { rid: String(i), ct: 'x'.repeat(200 * 1024) } });
            return batchesOf([0, 1, 2, 3, 4].map(big)).map((batch) => {
                const bytes = JSON.stringify({ reports: batch.map((e) => e.envelope) }).length;
                return { count: batch.length, fits: uploadTimeoutMs(bytes) < 300000 };
            });
        }"""
    )
    assert [b["count"] for b in batches] == [2, 2, 1]
    assert all(b["fits"] for b in batches)  # not cut off by the cap at 2 KB/s


def test_reports_leave_within_a_second_of_the_connection_returning(api_context, live_server) -> None:
    page = api_context.new_page()
    rids = queue_offline(page, api_context, live_server, 3)
    page.wait_for_timeout(3000)  # a while offline, as in the field: the backoff has grown
    tries = []

    def link_still_coming_up(route) -> None:  # type: ignore[no-untyped-def]
        tries.append(time.monotonic())
        if len(tries) == 1:
            route.abort("internetdisconnected")  # the first try after `online` finds no route yet
        else:
            route.continue_()

    page.route("**/api/v1/reports", link_still_coming_up)
    back = time.monotonic()
    api_context.set_offline(False)
    wait_until(page, lambda: len(tries) >= 2, seconds=10)
    assert tries[1] - back < 1.0  # not after the backoff's seconds
    wait_for_queued(page, 0, timeout=5000)
    assert stored_count(live_server, rids) == {rid: 1 for rid in rids}


def test_after_a_sync_the_phone_says_how_many_were_sent(api_context, live_server) -> None:
    page = api_context.new_page()
    queue_offline(page, api_context, live_server, 3)
    api_context.set_offline(False)
    wait_for_queued(page, 0)
    page.wait_for_selector("[data-testid=sent]:text('3 informes enviados')")
    save_report(page, uuid.uuid4().hex, quick=True)
    page.wait_for_selector("[data-testid=sent]:text('1 informe enviado')")


def reject_everything(rids: list[str], reason: str):  # type: ignore[no-untyped-def]
    def reject(route) -> None:  # type: ignore[no-untyped-def]
        body = json.dumps({"results": [{"rid": rid, "status": "rejected", "error": reason} for rid in rids]})
        route.fulfill(status=200, content_type="application/json", body=body)

    return reject


def test_a_rejected_report_is_sent_again_after_a_new_bootstrap(api_context, live_server) -> None:
    page = api_context.new_page()
    bootstraps = []

    def counted(route) -> None:  # type: ignore[no-untyped-def]
        route.continue_()
        bootstraps.append(True)

    def with_an_older_key_restored(route) -> None:  # type: ignore[no-untyped-def]
        real = route.fetch().json()
        # The organisation signs a list with one more (retired) key: what the phone is given is new.
        given = signing.from_wire(real["signed_keys"])
        older = crypto.public_raw(crypto.generate_private_key())
        listed = [*given.keys, signing.ListedKey(crypto.kid_for(older), older, False)]
        restored = signing.signed_list(signing.derive_signing_key(live_server.private), given.seq + 1, listed)
        real["signed_keys"], real["keys"] = restored.wire(), [key.entry() for key in listed]
        route.fulfill(status=200, content_type="application/json", body=json.dumps(real))

    page.route("**/api/v1/bootstrap", counted)
    [rid] = queue_offline(page, api_context, live_server, 1)
    page.route("**/api/v1/reports", reject_everything([rid], "La clave del informe no es conocida."))
    api_context.set_offline(False)
    page.wait_for_selector("text=1 informe no aceptado por el servidor")
    wait_until(page, lambda: len(bootstraps) >= 2)  # the one after the sync: nothing new, nothing retried
    page.wait_for_timeout(300)
    assert page.evaluate(OUTBOX_RIDS) == [rid]
    page.unroute("**/api/v1/reports")
    page.unroute("**/api/v1/bootstrap")
    page.route("**/api/v1/bootstrap", with_an_older_key_restored)  # what fixed the cause, on the server
    page.reload()
    wait_until(page, lambda: stored_count(live_server, [rid]) == {rid: 1}, seconds=15)
    page.wait_for_function("() => !document.body.innerText.includes('no aceptado')")
    assert page.evaluate(OUTBOX_RIDS) == []
    page.unroute_all(behavior="ignoreErrors")  # a bootstrap still being fetched must not outlive the test


def test_a_rejected_report_can_be_removed_after_confirming(api_context, live_server) -> None:
    page = api_context.new_page()
    [rid] = queue_offline(page, api_context, live_server, 1)
    page.route("**/api/v1/reports", reject_everything([rid], "Formulario desconocido."))
    api_context.set_offline(False)
    page.wait_for_selector("text=1 informe no aceptado por el servidor")
    page.click("text=Borrar del teléfono")
    page.wait_for_selector("dialog >> text=El servidor no lo tiene")
    page.click("dialog >> text=Conservar")
    assert page.evaluate(OUTBOX_RIDS) == [rid]
    page.click("text=Borrar del teléfono")
    page.click("dialog >> button:text('Borrar')")
    page.wait_for_function("() => !document.body.innerText.includes('no aceptado')")
    assert page.evaluate(OUTBOX_RIDS) == []
