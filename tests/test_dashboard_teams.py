"""The admin's teams and phones page: teams, one-time codes as text and QR, revoking a phone."""

from __future__ import annotations

import re

from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, EnrollmentCode
from fieldapp.services import devices, teams

from .conftest import FAST_KDF, KEY_PASSPHRASE, Org
from .test_dashboard_access import accounts, csrf, login  # noqa: F401  (fixture and helpers)


def test_create_team_issue_code_enrol_and_revoke(app, client, accounts, org: Org) -> None:  # noqa: F811
    login(client, "admin")
    token = csrf(client, "/dashboard/teams")
    assert client.post("/dashboard/teams", data={"name": "Loreto 2", "csrf_token": token}).status_code == 302
    page = client.get("/dashboard/teams").get_data(as_text=True)
    assert "Loreto 2" in page and org.team in page
    with app.app_context():
        loreto = teams.find_team(db.session, "Loreto 2").id
    answer = client.post(f"/dashboard/teams/{loreto}/code", data={"uses": "2", "hours": "3", "csrf_token": token})
    shown = answer.get_data(as_text=True)
    code = re.search(r'<p class="code">([0-9A-Z-]+)</p>', shown).group(1)
    assert "<svg" in shown and 'class="qr"' in shown and "2 teléfono(s) durante 3 horas" in shown
    with app.app_context():
        assert code.replace("-", "") not in str(db.session.scalars(select(EnrollmentCode.code_hash)).all())
    enrolled = client.post("/api/v1/enroll", json={"code": code})
    assert enrolled.status_code == 201 and enrolled.json["team"] == "Loreto 2"
    phone = {"Authorization": f"Bearer {enrolled.json['device_token']}"}
    with app.app_context():
        device_id = max(d.id for d in devices.list_devices(db.session) if d.team_id == loreto)
    assert f"/dashboard/devices/{device_id}/revoke" in client.get("/dashboard/teams").get_data(as_text=True)
    assert client.post(f"/dashboard/devices/{device_id}/revoke", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/v1/bootstrap", headers=phone).status_code == 401
    assert "Desconectado el" in client.get("/dashboard/teams").get_data(as_text=True)
    with app.app_context():
        actions = [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.actor == "admin"))]
    assert {"team_created", "enrollment_code_issued", "device_revoked"} <= set(actions)


def test_bad_team_and_code_input_is_a_clear_4xx(client, accounts) -> None:  # noqa: F811
    login(client, "admin")
    token = csrf(client, "/dashboard/teams")
    assert client.post("/dashboard/teams", data={"name": "", "csrf_token": token}).status_code == 422
    assert client.post("/dashboard/teams/999/code", data={"csrf_token": token}).status_code == 404
    client.post("/dashboard/teams", data={"name": "Tumbes", "csrf_token": token})
    assert client.post("/dashboard/teams", data={"name": "Tumbes", "csrf_token": token}).status_code == 409
    assert client.post("/dashboard/devices/999/revoke", data={"csrf_token": token}).status_code == 404


def test_admin_manages_users(app, client, accounts) -> None:  # noqa: F811
    from fieldapp.services import users

    login(client, "admin")
    token = csrf(client, "/dashboard/users")
    created = client.post(
        "/dashboard/users",
        data={"username": "Nuria", "role": "supervisor", "passphrase": "frase de nuria 1", "csrf_token": token},
    )
    assert created.status_code == 302
    weak = client.post(
        "/dashboard/users", data={"username": "x1", "role": "supervisor", "passphrase": "corta", "csrf_token": token}
    )
    assert weak.status_code == 422
    with app.app_context():
        nuria = users.find_user(db.session, "nuria")
        nuria.failed_logins, nuria.locked_until = 9, __import__("datetime").datetime(2999, 1, 1)
        admin_id = users.find_user(db.session, "admin").id
        db.session.commit()
        nuria_id = nuria.id
    assert "Bloqueada por intentos fallidos" in client.get("/dashboard/users").get_data(as_text=True)
    assert client.post(f"/dashboard/users/{nuria_id}/unlock", data={"csrf_token": token}).status_code == 302
    assert client.post(f"/dashboard/users/{admin_id}/disable", data={"csrf_token": token}).status_code == 409
    assert client.post(f"/dashboard/users/{nuria_id}/disable", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        nuria = users.find_user(db.session, "nuria")
        assert nuria.disabled_on is not None and nuria.locked_until is None
        actions = [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.actor == "admin"))]
    assert {"user_created", "user_lock_cleared", "user_disabled"} <= set(actions)
    other = app.test_client()
    refused = other.post(
        "/dashboard/login",
        data={"username": "nuria", "passphrase": "frase de nuria 1", "csrf_token": csrf(other, "/dashboard/login")},
    )
    assert refused.status_code == 401  # a disabled account cannot log in


def test_admin_sees_keys_and_holders(client, accounts, org: Org) -> None:  # noqa: F811
    login(client, "admin")
    page = client.get("/dashboard/keys").get_data(as_text=True)
    assert org.kid in page and "gestionada" in page and "ana" in page


def test_admin_rotates_the_key_and_gets_a_recovery_kit_once(app, client, accounts, org: Org) -> None:  # noqa: F811
    import html

    from fieldapp import crypto
    from fieldapp.services import keys, users

    with app.app_context():
        ana = users.find_user(db.session, "ana")
        admin = users.find_user(db.session, "admin")
        keys.grant(db.session, ana, KEY_PASSPHRASE, admin, "clave del admin 99", FAST_KDF)
        db.session.commit()
    login(client, "admin")
    token = csrf(client, "/dashboard/keys")
    mismatch = {"key_passphrase": "nueva clave 2027", "key_passphrase_again": "otra cosa 2027", "csrf_token": token}
    assert client.post("/dashboard/keys/rotate", data=mismatch).status_code == 422
    same = {"key_passphrase": "nueva clave 2027", "key_passphrase_again": "nueva clave 2027", "csrf_token": token}
    assert client.post("/dashboard/keys/rotate", data=same).status_code == 403  # a login alone cannot rotate
    same["current_key_passphrase"] = "clave del admin 99"
    page = client.post("/dashboard/keys/rotate", data=same).get_data(as_text=True)
    assert "ana" in page.split("<h1>", 1)[1].split('<pre class="kit">')[0]  # named: she cannot read new reports
    phrase = " ".join(re.findall(r"<li>([a-z]+)</li>", page))
    kit = html.unescape(re.search(r'<pre class="kit">(.*?)</pre>', page, re.S).group(1)).encode()
    new_kid = crypto.kid_for(crypto.public_raw(crypto.open_recovery_kit(kit, phrase)))
    with app.app_context():
        listed = {k.kid: k for k in keys.list_keys(db.session)}
        assert listed[new_kid].current and not listed[org.kid].current and listed[org.kid].retired_on
        assert set(keys.unlock(db.session, users.find_user(db.session, "admin"), "nueva clave 2027")) == {new_kid}
        actions = [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.actor == "admin"))]
    assert "key_rotated" in actions
    answer = client.get("/api/v1/bootstrap", headers=org.headers)
    assert [k["kid"] for k in answer.json["keys"] if k["current"]] == [new_kid]  # phones get it on their next sync
