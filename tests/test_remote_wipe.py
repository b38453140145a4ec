"""Revoking a phone asks it to wipe itself: its sealed outbox is still taken, every other call says "wipe"."""

from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import select

from fieldapp.database import writing
from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Device, Report
from fieldapp.services import devices

from .conftest import Org
from .test_api import assert_problem
from .test_dashboard_access import accounts, csrf, login  # noqa: F401  (fixture and helpers)


def the_device(app) -> Device:  # type: ignore[no-untyped-def]
    with app.app_context():
        [device] = devices.list_devices(db.session)
        db.session.expunge(device)
        return device


def revoke(app, wipe: bool) -> int:  # type: ignore[no-untyped-def]
    with app.app_context(), writing(db.session):
        [device] = devices.list_devices(db.session)
        devices.revoke(db.session, device.id, wipe=wipe)
        return device.id


def events(app, action: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with app.app_context():
        found = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        db.session.expunge_all()
        return found


def send(client, org: Org, *envelopes) -> list[str]:  # type: ignore[no-untyped-def]
    answer = client.post("/api/v1/reports", json={"reports": list(envelopes)}, headers=org.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return [result["status"] for result in answer.json["results"]]


def test_a_phone_revoked_with_a_wipe_delivers_its_outbox_and_is_told_to_wipe_once(org: Org, client, app) -> None:
    sent_before = org.envelope()
    assert send(client, org, sent_before) == ["stored"]
    revoke(app, wipe=True)
    assert the_device(app).wipe_requested_on == dt.datetime.now(dt.UTC).date()
    # Its sealed outbox still goes, to its team, and a resend is still a duplicate.
    waiting = org.envelope()
    assert send(client, org, waiting, sent_before) == ["stored", "duplicate"]
    with app.app_context():
        rows = list(db.session.scalars(select(Report).order_by(Report.id)))
        assert [row.rid for row in rows] == [sent_before["rid"], waiting["rid"]]
        assert {row.team.name for row in rows} == {org.team}
    assert the_device(app).wiped_on is None and events(app, "device_wiped") == []  # delivering is not told
    # Any other call: 401, with the extension member that tells the phone to wipe.
    answer = client.get("/api/v1/bootstrap", headers=org.headers)
    body = assert_problem(answer, 401)
    assert body["wipe"] is True and set(body) == {"type", "title", "status", "detail", "wipe"}
    today = dt.datetime.now(dt.UTC).date()
    assert the_device(app).wiped_on == today
    [wiped] = events(app, "device_wiped")
    assert wiped.actor == "phone" and wiped.at == dt.datetime.combine(today, dt.time())  # a date, no time
    assert json.loads(wiped.detail) == {"device": the_device(app).id}
    # Told again at every call, noted once.
    assert assert_problem(client.get("/api/v1/bootstrap", headers=org.headers), 401)["wipe"] is True
    assert len(events(app, "device_wiped")) == 1 and the_device(app).wiped_on == today
    # A wiped phone keeps its sealed outbox and its token: what it still holds is taken.
    assert send(client, org, org.envelope()) == ["stored"]
    assert send(client, org, waiting) == ["duplicate"]


def test_a_wipe_told_first_on_an_earlier_day_keeps_that_day(org: Org, client, app) -> None:
    device_id = revoke(app, wipe=True)
    with app.app_context(), writing(db.session):
        db.session.get(Device, device_id).wiped_on = dt.date(2026, 1, 5)
    assert assert_problem(client.get("/api/v1/bootstrap", headers=org.headers), 401)["wipe"] is True
    assert the_device(app).wiped_on == dt.date(2026, 1, 5) and events(app, "device_wiped") == []


def test_a_phone_revoked_without_a_wipe_is_refused_everywhere_and_never_told_to_wipe(org: Org, client, app) -> None:
    revoke(app, wipe=False)
    for answer in (
        client.get("/api/v1/bootstrap", headers=org.headers),
        client.post("/api/v1/reports", json={"reports": [org.envelope()]}, headers=org.headers),
        client.post("/api/v1/reports", json={"reports": []}, headers=org.headers),
    ):
        assert "wipe" not in assert_problem(answer, 401)
    with app.app_context():
        assert db.session.scalars(select(Report)).all() == []
    device = the_device(app)
    assert device.revoked_on is not None and device.wipe_requested_on is None and device.wiped_on is None
    assert events(app, "device_wiped") == []


def test_no_unknown_token_is_told_to_wipe(org: Org, client, app) -> None:
    revoke(app, wipe=True)
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Bearer " + org.token[:-1] + "x"}):
        assert "wipe" not in assert_problem(client.get("/api/v1/bootstrap", headers=headers), 401)
        assert "wipe" not in assert_problem(client.post("/api/v1/reports", json={"reports": []}, headers=headers), 401)


def test_the_dashboard_revokes_with_a_wipe_by_default_and_shows_it(app, client, accounts, org: Org) -> None:  # noqa: F811
    login(client, "admin")
    token = csrf(client, "/dashboard/teams")
    page = client.get("/dashboard/teams").get_data(as_text=True)
    device_id = the_device(app).id
    box = re.search(rf'<input type="checkbox" id="wipe-{device_id}" name="wipe" value="1"( checked)?>', page)
    assert box and box.group(1) == " checked"
    assert f'<label for="wipe-{device_id}">Borrar lo que queda en el teléfono en su próximo contacto' in page
    # The form as sent with its box ticked.
    answer = client.post(f"/dashboard/devices/{device_id}/revoke", data={"wipe": "1", "csrf_token": token})
    assert answer.status_code == 302
    assert the_device(app).wipe_requested_on is not None
    assert "Borrado pedido" in client.get("/dashboard/teams").get_data(as_text=True)
    assert assert_problem(client.get("/api/v1/bootstrap", headers=org.headers), 401)["wipe"] is True
    page = client.get("/dashboard/teams").get_data(as_text=True)
    assert "Orden de borrado enviada el " in page and "Borrado pedido" not in page
    [revoked] = events(app, "device_revoked")
    assert json.loads(revoked.detail) == {"device": device_id, "wipe": True}
    assert events(app, "device_wiped")[0].action == "device_wiped"
    audit_page = client.get("/dashboard/audit").get_data(as_text=True)
    assert "Teléfono borrado a distancia" in audit_page


def test_the_dashboard_revokes_without_a_wipe_when_the_box_is_unticked(app, client, accounts, org: Org) -> None:  # noqa: F811
    login(client, "admin")
    token = csrf(client, "/dashboard/teams")
    device_id = the_device(app).id
    assert client.post(f"/dashboard/devices/{device_id}/revoke", data={"csrf_token": token}).status_code == 302
    assert the_device(app).wipe_requested_on is None
    assert "wipe" not in assert_problem(client.get("/api/v1/bootstrap", headers=org.headers), 401)
    page = client.get("/dashboard/teams").get_data(as_text=True)
    assert "Desconectado el" in page and "Borrado" not in page
    [revoked] = events(app, "device_revoked")
    assert json.loads(revoked.detail) == {"device": device_id, "wipe": False}


def test_the_command_line_revokes_with_a_wipe_unless_told_not_to(runner, app, org: Org, client) -> None:
    device_id = str(the_device(app).id)
    kept = runner.invoke(args=["devices", "revoke", device_id, "--no-wipe"])
    assert kept.exit_code == 0, kept.output
    assert the_device(app).wipe_requested_on is None
    assert "wipe" not in assert_problem(client.get("/api/v1/bootstrap", headers=org.headers), 401)
    # Revoked already, a phone can still be asked to wipe (the default).
    wiped = runner.invoke(args=["devices", "revoke", device_id])
    assert wiped.exit_code == 0 and "se borrará en su próximo contacto" in wiped.output
    assert the_device(app).wipe_requested_on is not None
    assert assert_problem(client.get("/api/v1/bootstrap", headers=org.headers), 401)["wipe"] is True
    assert [json.loads(e.detail)["wipe"] for e in events(app, "device_revoked")] == [False, True]
    assert "--wipe / --no-wipe" in runner.invoke(args=["devices", "revoke", "--help"]).output


def test_a_seized_phones_token_sends_nothing_once_the_delivery_time_is_over(org: Org, client, app) -> None:
    device_id = revoke(app, wipe=True)
    assert send(client, org, org.envelope()) == ["stored"]
    with app.app_context(), writing(db.session):
        db.session.get(Device, device_id).wipe_requested_on -= devices.DELIVERY_AFTER_WIPE + dt.timedelta(days=1)
    late = client.post("/api/v1/reports", json={"reports": [org.envelope()]}, headers=org.headers)
    assert late.status_code == 401 and late.json["wipe"] is True
    with app.app_context():
        assert db.session.query(Report).count() == 1
