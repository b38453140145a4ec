"""Dashboard accounts: every view checks its role; logins slow down and lock per account; CSRF; idle logout."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from sqlalchemy import update

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, User
from fieldapp.services import users

from .conftest import FAST_KDF, LOGIN_PASSPHRASE

ROLES = ("admin", "supervisor", "translator")
READERS = {"admin", "supervisor"}
RID = "0b6c4b1e-6f0e-4c5e-9a55-3f0f5c2f6d11"
# (method, rule) -> roles admitted. Every dashboard view is listed, and a test checks the list is complete.
VIEWS = {
    ("GET", "/dashboard/"): set(ROLES),
    ("GET", "/dashboard/audit"): {"admin"},
    ("GET", "/dashboard/unlock"): READERS,
    ("POST", "/dashboard/unlock"): READERS,
    ("POST", "/dashboard/lock"): READERS,
    ("GET", "/dashboard/reports"): READERS,
    ("GET", "/dashboard/reports/<rid>"): READERS,
    ("GET", "/dashboard/reports/<rid>/attachments/<aid>"): READERS,
    ("POST", "/dashboard/reports/<rid>/status"): READERS,
    ("POST", "/dashboard/reports/<rid>/notes"): READERS,
    ("GET", "/dashboard/export"): READERS,
    ("GET", "/dashboard/stats"): READERS,
    ("GET", "/dashboard/teams"): {"admin"},
    ("POST", "/dashboard/teams"): {"admin"},
    ("POST", "/dashboard/teams/<int:team_id>/code"): {"admin"},
    ("POST", "/dashboard/devices/<int:device_id>/revoke"): {"admin"},
    ("GET", "/dashboard/tls/ca.pem"): {"admin"},
    ("GET", "/dashboard/users"): {"admin"},
    ("POST", "/dashboard/users"): {"admin"},
    ("POST", "/dashboard/users/<int:user_id>/disable"): {"admin"},
    ("POST", "/dashboard/users/<int:user_id>/unlock"): {"admin"},
    ("GET", "/dashboard/keys"): {"admin"},
    ("POST", "/dashboard/keys/rotate"): {"admin"},
    ("GET", "/dashboard/bundles"): {"admin"},
    ("GET", "/dashboard/bundles/export"): {"admin"},
    ("POST", "/dashboard/bundles/import"): {"admin"},
    ("GET", "/dashboard/relay"): {"admin"},
    ("POST", "/dashboard/relay/join"): {"admin"},
    ("POST", "/dashboard/relay/retry"): {"admin"},
    ("POST", "/dashboard/relay/leave"): {"admin"},
    ("POST", "/dashboard/relays"): {"admin"},
    ("POST", "/dashboard/relays/<int:relay_id>/revoke"): {"admin"},
    ("GET", "/dashboard/translations"): {"admin", "translator"},
    ("GET", "/dashboard/translations/<code>"): {"admin", "translator"},
    ("POST", "/dashboard/translations/<code>"): {"admin", "translator"},
    ("GET", "/dashboard/translations/<code>/catalog.po"): {"admin", "translator"},
    ("POST", "/dashboard/translations/<code>/catalog.po"): {"admin", "translator"},
}
OPEN_TO_ALL = {"/dashboard/login", "/dashboard/logout", "/setup/<token>"}


@pytest.fixture
def accounts(app) -> None:
    with app.app_context():
        for role in ROLES:
            users.create_user(db.session, role, role, LOGIN_PASSPHRASE, FAST_KDF)
        db.session.commit()


def csrf(client, path: str = "/dashboard/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, username: str, passphrase: str = LOGIN_PASSPHRASE):  # type: ignore[no-untyped-def]
    return client.post(
        "/dashboard/login", data={"username": username, "passphrase": passphrase, "csrf_token": csrf(client)}
    )


def test_every_dashboard_view_is_in_the_role_table(app) -> None:
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("dashboard.") and rule.rule not in OPEN_TO_ALL
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == set(VIEWS)


def concrete(rule: str) -> str:
    for name, value in (
        ("<rid>", RID),
        ("<aid>", "7d1f0c9e-3b7a-4c1e-9f2a-6a5b4c3d2e1f"),
        ("<int:team_id>", "1"),
        ("<int:device_id>", "1"),
        ("<int:user_id>", "999"),
        ("<int:relay_id>", "999"),
        ("<code>", "en"),
    ):
        rule = rule.replace(name, value)
    return rule


def _call(client, method: str, rule: str):  # type: ignore[no-untyped-def]
    path = concrete(rule)
    if method == "GET":
        return client.get(path)
    return client.post(path, data={"csrf_token": csrf(client, "/dashboard/")})


@pytest.mark.parametrize(("method", "rule"), list(VIEWS))
def test_anonymous_is_sent_to_login(client, method, rule) -> None:
    client.get("/dashboard/login")  # a session with a CSRF token, but no user
    path = concrete(rule)
    token = csrf(client) if method == "POST" else None
    answer = client.get(path) if method == "GET" else client.post(path, data={"csrf_token": token})
    assert answer.status_code == 302 and "/dashboard/login" in answer.headers["Location"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "rule"), list(VIEWS))
def test_each_role_reaches_only_its_views(app, client, accounts, role, method, rule) -> None:
    assert login(client, role).status_code == 302
    answer = _call(client, method, rule)
    if role in VIEWS[(method, rule)]:
        assert answer.status_code != 403 and "/dashboard/login" not in answer.headers.get("Location", ""), role
    else:
        assert answer.status_code == 403, (role, method, rule)


def test_wrong_passphrase_and_unknown_user_get_the_same_answer(client, accounts) -> None:
    wrong = login(client, "supervisor", "no es la correcta")
    unknown = login(client, "nadie", "no es la correcta")
    assert wrong.status_code == unknown.status_code == 401
    message = "Usuario o frase de paso incorrectos."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)


def test_failures_slow_down_then_lock_the_account_not_others(app, client, accounts) -> None:
    for _ in range(users.FREE_FAILURES):
        login(client, "supervisor", "no es la correcta")
    refused = login(client, "supervisor")  # even the right passphrase must wait now
    assert refused.status_code == 429 and "Espere" in refused.get_data(as_text=True)
    assert login(client, "admin").status_code == 302  # per account: the admin is not locked out
    with app.app_context():
        user = users.find_user(db.session, "supervisor")
        assert user.failed_logins == users.FREE_FAILURES and user.locked_until is not None
        db.session.execute(update(User).where(User.id == user.id).values(locked_until=dt.datetime(2000, 1, 1)))
        db.session.commit()
    client.post("/dashboard/logout", data={"csrf_token": csrf(client, "/dashboard/")})
    assert login(client, "supervisor").status_code == 302
    with app.app_context():
        assert users.find_user(db.session, "supervisor").failed_logins == 0


def test_lock_grows_and_is_capped() -> None:
    waits = [users.lock_seconds(n) for n in range(0, 30)]
    assert waits[: users.FREE_FAILURES] == [0] * users.FREE_FAILURES
    assert waits == sorted(waits) and max(waits) == users.MAX_LOCK_SECONDS == 900


def test_login_and_logout_need_csrf(client, accounts) -> None:
    client.get("/dashboard/login")
    assert (
        client.post("/dashboard/login", data={"username": "admin", "passphrase": LOGIN_PASSPHRASE}).status_code == 400
    )
    assert login(client, "admin").status_code == 302
    assert client.post("/dashboard/logout").status_code == 400
    assert client.get("/dashboard/").status_code == 200  # still logged in
    client.post("/dashboard/logout", data={"csrf_token": csrf(client, "/dashboard/")})
    assert client.get("/dashboard/").status_code == 302


def test_idle_session_logs_out(client, accounts) -> None:
    login(client, "supervisor")
    with client.session_transaction() as session:
        session["seen"] = int(time.time()) - 31 * 60
    assert client.get("/dashboard/").status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "//elsewhere.example/x",
        "https://elsewhere.example/",
        "javascript:alert(1)",
        "/\\elsewhere.example/x",
        "/dashboard/\r\nSet-Cookie: x=1",
        "/" + "a" * 5000,
    ],
)
def test_login_redirects_only_within_the_site(client, accounts, target) -> None:
    answer = client.post(
        "/dashboard/login",
        query_string={"next": target},
        data={"username": "admin", "passphrase": LOGIN_PASSPHRASE, "csrf_token": csrf(client)},
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/dashboard/", target


@pytest.mark.parametrize(("method", "rule"), list(VIEWS))
def test_a_cookie_copied_before_logout_opens_nothing_after(app, client, accounts, method, rule) -> None:
    assert login(client, "admin").status_code == 302
    token = csrf(client, "/dashboard/")
    copied = client.get_cookie("fieldapp_session").value
    logout = client.post("/dashboard/logout", data={"csrf_token": token})
    assert logout.status_code == 302 and logout.headers["Clear-Site-Data"] == '"cache", "cookies"'
    client.set_cookie("fieldapp_session", copied)  # the thief's copy, CSRF token included
    path = concrete(rule)
    answer = client.get(path) if method == "GET" else client.post(path, data={"csrf_token": token})
    assert answer.status_code == 302 and "/dashboard/login" in answer.headers["Location"], (method, rule)


def test_logging_in_again_after_logout_works(client, accounts) -> None:
    login(client, "admin")
    client.post("/dashboard/logout", data={"csrf_token": csrf(client, "/dashboard/")})
    assert login(client, "admin").status_code == 302
    assert client.get("/dashboard/").status_code == 200


def test_logins_are_audited(app, client, accounts) -> None:
    login(client, "supervisor", "no es la correcta")
    login(client, "supervisor")
    with app.app_context():
        actions = [(e.actor, e.action) for e in db.session.query(AuditEvent).order_by(AuditEvent.id)]
    assert actions[-2:] == [("supervisor", "login_refused"), ("supervisor", "login")]
