"""Key custody a stolen login cannot change: rotation needs the current key's passphrase, offline custody stays
offline, and guesses at a key passphrase are limited per account like logins."""

from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import select, update

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, OrgKey, User
from fieldapp.services import keys, users

from .conftest import FAST_KDF, KEY_PASSPHRASE, LOGIN_PASSPHRASE, Org
from .test_dashboard_reports import SUPERVISOR_KEY, csrf, inbox_org, login, unlock  # noqa: F401

NEW_KEY = "nueva clave 2027 larga"


def rotate(client, current: str | None):  # type: ignore[no-untyped-def]
    form = {"key_passphrase": NEW_KEY, "key_passphrase_again": NEW_KEY, "csrf_token": csrf(client, "/dashboard/keys")}
    if current is not None:
        form["current_key_passphrase"] = current
    return client.post("/dashboard/keys/rotate", data=form)


def current_kids(app) -> list[str]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return list(db.session.scalars(select(OrgKey.kid).where(OrgKey.current.is_(True))))


def test_rotation_needs_the_current_key_opened_in_the_same_request(app, client, org: Org) -> None:
    login(client, "ana")
    assert rotate(client, None).status_code == 403
    assert rotate(client, "no es la clave 2026").status_code == 403
    assert current_kids(app) == [org.kid]  # a login alone changed nothing
    answer = rotate(client, KEY_PASSPHRASE)
    assert answer.status_code == 200
    [new_kid] = current_kids(app)
    assert new_kid != org.kid
    with app.app_context():
        ana = users.find_user(db.session, "ana")
        assert set(keys.unlock(db.session, ana, NEW_KEY)) == {new_kid}
        details = [json.loads(e.detail) for e in db.session.scalars(select(AuditEvent)) if e.action == "key_rotated"]
    assert details == [{"kid": new_kid, "left_out": []}]


def test_rotation_names_the_holders_who_will_not_read_new_reports(app, client, inbox_org) -> None:  # noqa: F811
    login(client, "ana")
    page = rotate(client, KEY_PASSPHRASE).get_data(as_text=True)
    warning = re.search(r'<p role="alert">(.*?)</p>', page, re.S).group(1)
    assert "sara" in warning and "ana" not in warning


def test_offline_custody_cannot_be_turned_managed_by_a_rotation(app, client, runner) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    with app.app_context():
        users.create_user(db.session, "ana", "admin", LOGIN_PASSPHRASE, FAST_KDF)
        public = ec.generate_private_key(ec.SECP256R1()).public_key()
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        keys.import_pem(db.session, pem, None, None, FAST_KDF)
        db.session.commit()
    before = current_kids(app)
    login(client, "ana")
    assert rotate(client, KEY_PASSPHRASE).status_code == 409
    env = {"FIELDAPP_CURRENT_PASSPHRASE": KEY_PASSPHRASE, "FIELDAPP_PASSPHRASE": NEW_KEY}
    result = runner.invoke(args=["keys", "rotate", "--holder", "ana"], env=env)
    assert result.exit_code != 0 and "custodia fuera de línea" in result.output
    assert current_kids(app) == before


def test_the_command_line_rotation_needs_the_current_passphrase_too(
    app, runner, org: Org, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"FIELDAPP_CURRENT_PASSPHRASE": "no es la clave 2026", "FIELDAPP_PASSPHRASE": NEW_KEY}
    result = runner.invoke(args=["keys", "rotate", "--holder", "ana"], env=env)
    assert result.exit_code != 0 and "no es correcta" in result.output
    assert current_kids(app) == [org.kid] and not list(tmp_path.glob("fieldapp-recovery-*"))
    with app.app_context():
        assert users.find_user(db.session, "ana").failed_unlocks == 1


def test_unlock_guesses_are_limited_per_account(app, client, inbox_org) -> None:  # noqa: F811
    login(client, "sara")
    for _ in range(users.FREE_FAILURES - 1):
        assert unlock(client, "no es mi clave 2026").status_code == 403
    assert unlock(client, "no es mi clave 2026").status_code == 429  # from now on the account waits
    with app.app_context():
        sara = users.find_user(db.session, "sara")
        assert sara.failed_unlocks == users.FREE_FAILURES and sara.unlock_locked_until is not None
        assert sara.failed_logins == 0  # logins keep their own count
        assert users.find_user(db.session, "olga").failed_unlocks == 0  # per account
        sara_id = sara.id
        db.session.execute(update(User).where(User.id == sara_id).values(unlock_locked_until=dt.datetime(2099, 1, 1)))
        db.session.commit()
    assert unlock(client, SUPERVISOR_KEY).status_code == 429  # while it waits, no passphrase is even tried
    admin = app.test_client()
    login(admin, "ana")
    token = csrf(admin, "/dashboard/users")
    assert admin.post(f"/dashboard/users/{sara_id}/unlock", data={"csrf_token": token}).status_code == 302
    assert unlock(client, SUPERVISOR_KEY).status_code == 302  # an admin cleared the wait
    with app.app_context():
        assert users.find_user(db.session, "sara").failed_unlocks == 0
