"""First run: the one-time setup link creates the first admin and the organisation key, then dies."""

from __future__ import annotations

import html
import re

import pytest

from fieldapp import crypto
from fieldapp.extensions import db
from fieldapp.services import keys, setup, users


@pytest.fixture
def setup_token(app) -> str:
    with app.app_context():
        token = setup.issue_setup_token(db.session)
        db.session.commit()
    return token


def csrf_from(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


FORM = {
    "username": "Ana",
    "passphrase": "entrada segura 2026",
    "passphrase_again": "entrada segura 2026",
    "key_passphrase": "llave del equipo 2026",
    "key_passphrase_again": "llave del equipo 2026",
}


def test_setup_creates_admin_key_and_recovery_kit(app, client, setup_token) -> None:
    page = client.get(f"/setup/{setup_token}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    done = client.post(f"/setup/{setup_token}", data={**FORM, "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert done.status_code == 200
    text = done.get_data(as_text=True)
    phrase = " ".join(re.findall(r"<li>([a-z]+)</li>", text))
    kit = html.unescape(re.search(r'<pre class="kit">(.*?)</pre>', text, re.S).group(1)).encode()
    assert crypto.check_recovery_phrase(phrase)
    der = crypto.open_recovery_kit(kit, phrase)
    with app.app_context():
        admin = users.find_user(db.session, "ana")
        assert admin.role == "admin"
        [(kid, private)] = keys.unlock(db.session, admin, FORM["key_passphrase"]).items()
        assert crypto.private_der(private) == der and kid in text
        assert keys.list_keys(db.session)[0].current
    # The link is spent.
    assert client.get(f"/setup/{setup_token}").status_code == 404
    again = client.post(f"/setup/{setup_token}", data={**FORM, "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert again.status_code == 404


def test_setup_needs_csrf(app, client, setup_token) -> None:
    client.get(f"/setup/{setup_token}")
    answer = client.post(f"/setup/{setup_token}", data=FORM)
    assert answer.status_code == 400 and "text/html" in answer.content_type
    with app.app_context():
        assert not users.admin_exists(db.session)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"passphrase_again": "otra cosa 123"}, "no coinciden"),
        ({"key_passphrase": "entrada segura 2026", "key_passphrase_again": "entrada segura 2026"}, "distinta"),
        ({"passphrase": "corta", "passphrase_again": "corta"}, "al menos 10"),
        ({"username": "a b"}, "nombre de usuario"),
    ],
)
def test_setup_explains_bad_input_and_stores_nothing(app, client, setup_token, change, message) -> None:
    page = client.get(f"/setup/{setup_token}").get_data(as_text=True)
    answer = client.post(f"/setup/{setup_token}", data={**FORM, **change, "csrf_token": csrf_from(page)})
    assert answer.status_code == 422 and message in answer.get_data(as_text=True)
    with app.app_context():
        assert not users.admin_exists(db.session) and keys.list_keys(db.session) == []
    assert client.get(f"/setup/{setup_token}").status_code == 200  # still usable


def test_unknown_setup_token(client, setup_token) -> None:
    assert client.get("/setup/not-the-token").status_code == 404
    assert client.get("/setup/" + "x" * 500).status_code == 404


def test_new_token_replaces_old(app, client, setup_token) -> None:
    with app.app_context():
        newer = setup.issue_setup_token(db.session)
        db.session.commit()
    assert client.get(f"/setup/{setup_token}").status_code == 404
    assert client.get(f"/setup/{newer}").status_code == 200


def test_setup_link_command(runner, app) -> None:
    result = runner.invoke(args=["setup-link"])
    assert result.exit_code == 0
    url = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"http://127\.0\.0\.1:5000/setup/[A-Za-z0-9_-]{40,}", url)
    assert app.test_client().get(url.split("5000", 1)[1]).status_code == 200
