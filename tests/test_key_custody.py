"""Key custody a stolen login cannot change: rotation needs the current key's passphrase, offline custody stays
offline, and guesses at a key passphrase are limited per account like logins."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import pytest
from sqlalchemy import delete, select, update

from fieldapp import crypto
from fieldapp.extensions import db
from fieldapp.models import AuditEvent, HolderKey, OrgKey, PendingGrant, User
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
    assert details == [{"kid": new_kid, "left_out": [], "waiting": []}]


def test_every_other_holder_gets_the_new_key_at_their_next_unlock(app, client, org: Org, inbox_org) -> None:  # noqa: F811
    """Nobody else's passphrase is needed: the new key waits for sara sealed to her own key pair."""
    login(client, "ana")
    page = rotate(client, KEY_PASSPHRASE).get_data(as_text=True)
    assert "sara" in page.split("<h1>", 1)[1].split('<pre class="kit">')[0] and 'role="alert"' not in page
    [new_kid] = current_kids(app)
    with app.app_context():
        pending = db.session.scalars(select(PendingGrant)).all()
        assert [(p.user.username, p.key.kid) for p in pending] == [("sara", new_kid)]
        assert SUPERVISOR_KEY not in pending[0].sealed_private_key and "pkcs8" not in pending[0].sealed_private_key
        pub = db.session.scalar(select(OrgKey.public_key).where(OrgKey.kid == new_kid))
    rid = str(uuid.uuid4())
    envelope = crypto.seal_document({"form": "trafficking-report", "form_version": 1, "answers": {}}, pub, rid)
    stored = client.post("/api/v1/reports", json={"reports": [envelope]}, headers=org.headers)
    assert stored.json["results"][0]["status"] == "stored"
    supervisor = app.test_client()
    login(supervisor, "sara")
    assert unlock(supervisor).status_code == 302  # her usual passphrase: the pending grant completes
    assert supervisor.get(f"/dashboard/reports/{rid}").status_code == 200
    with app.app_context():
        assert db.session.scalars(select(PendingGrant)).all() == []
        sara = users.find_user(db.session, "sara")
        assert set(keys.unlock(db.session, sara, SUPERVISOR_KEY)) >= {new_kid}  # now an ordinary grant


def test_a_holder_without_a_key_pair_is_named_as_left_out(app, client, inbox_org) -> None:  # noqa: F811
    with app.app_context():
        sara_id = users.find_user(db.session, "sara").id
        db.session.execute(delete(HolderKey).where(HolderKey.user_id == sara_id))  # as before key pairs existed
        db.session.commit()
    login(client, "ana")
    page = rotate(client, KEY_PASSPHRASE).get_data(as_text=True)
    warning = re.search(r'<p role="alert">(.*?)</p>', page, re.S).group(1)
    assert "sara" in warning and "ana" not in warning
    with app.app_context():
        assert db.session.scalars(select(PendingGrant)).all() == []


def test_a_damaged_or_misdirected_pending_grant_opens_nothing() -> None:
    holder, other = crypto.generate_private_key(), crypto.generate_private_key()
    org, decoy = crypto.generate_private_key(), crypto.generate_private_key()
    kid, decoy_kid = crypto.kid_for(crypto.public_raw(org)), crypto.kid_for(crypto.public_raw(decoy))
    sealed = crypto.seal_key_to_holder(org, kid, crypto.public_raw(holder))
    assert crypto.open_key_for_holder(sealed, kid, crypto.load_private_key(holder)) == org
    for bad, key_id, private in (
        (sealed, kid, other),  # not this holder's
        (sealed, decoy_kid, holder),  # claimed for another key
        (crypto.seal_key_to_holder(decoy, kid, crypto.public_raw(holder)), kid, holder),  # carries the wrong key
        (sealed[:-20] + "}", kid, holder),
        ("[]", kid, holder),
    ):
        with pytest.raises(crypto.UnwrapError):
            crypto.open_key_for_holder(bad, key_id, crypto.load_private_key(private))


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
