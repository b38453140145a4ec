"""Dashboard pages in a real browser: no serious accessibility violation, nothing loaded from elsewhere."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from fieldapp.extensions import db
from fieldapp.services import users

from ..conftest import FAST_KDF, LOGIN_PASSPHRASE


@pytest.fixture(scope="module")
def staff(live_server) -> None:
    with live_server.app.app_context():
        for role in ("supervisor", "translator"):
            if not db.session.query(users.User).filter_by(username=f"ui-{role}").first():
                users.create_user(db.session, f"ui-{role}", role, LOGIN_PASSPHRASE, FAST_KDF)
        db.session.commit()


@pytest.mark.parametrize(
    ("who", "path"),
    [
        (None, "/dashboard/login"),
        ("ana", "/dashboard/"),
        ("ana", "/dashboard/audit"),
        ("ui-supervisor", "/dashboard/"),
        ("ui-translator", "/dashboard/"),
        ("ui-translator", "/dashboard/translations"),
        ("ui-translator", "/dashboard/translations/qu"),
        ("ana", "/dashboard/keys?lang=en"),
    ],
)
def test_dashboard_pages_are_accessible(page, context, live_server, staff, who, path) -> None:
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    if who:
        page.goto(live_server.url + "/dashboard/login")
        page.fill("#username", who)
        page.fill("#passphrase", LOGIN_PASSPHRASE)
        page.click("button[type=submit]")
        page.wait_for_selector("h1")
    page.goto(live_server.url + path)
    page.wait_for_selector("h1")
    serious = [v for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], [(v["id"], v["help"]) for v in serious]
    assert all(url.startswith(live_server.url + "/") for url in requested)


def test_reading_pages_are_accessible(page, live_server) -> None:
    from fieldapp import crypto

    from ..conftest import KEY_PASSPHRASE

    client = live_server.app.test_client()
    token = client.post("/api/v1/enroll", json={"code": live_server.enrollment_code()}).json["device_token"]
    doc = {
        "form": "trafficking-report",
        "form_version": 1,
        "locale": "es",
        "answers": {"department": "17", "urgent": True, "exploitation_type": ["ForcedLabour"]},
    }
    envelope = crypto.seal_document(doc, crypto.public_raw(live_server.private))
    client.post("/api/v1/reports", json={"reports": [envelope]}, headers={"Authorization": f"Bearer {token}"})

    def check() -> None:
        page.wait_for_selector("h1")
        serious = [v for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
        assert serious == [], (page.url, [(v["id"], v["help"]) for v in serious])

    page.goto(live_server.url + "/dashboard/login")
    page.fill("#username", "ana")
    page.fill("#passphrase", LOGIN_PASSPHRASE)
    page.click("button[type=submit]")
    page.goto(live_server.url + "/dashboard/reports")
    check()
    page.goto(live_server.url + "/dashboard/unlock")
    check()
    page.fill("#key_passphrase", KEY_PASSPHRASE)
    page.click("form:has(#key_passphrase) button[type=submit]")
    page.wait_for_selector("text=Lectura desbloqueada")
    check()
    page.goto(live_server.url + f"/dashboard/reports/{envelope['rid']}")
    page.wait_for_selector("text=Peligro inmediato")
    check()


def test_code_page_is_accessible(page, live_server) -> None:
    page.goto(live_server.url + "/dashboard/login")
    page.fill("#username", "ana")
    page.fill("#passphrase", LOGIN_PASSPHRASE)
    page.click("form:has(#passphrase) button[type=submit]")
    page.goto(live_server.url + "/dashboard/teams")
    page.click("text=Dar un código de inscripción")
    page.wait_for_selector("svg.qr")
    serious = [v for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], [(v["id"], v["help"]) for v in serious]


def test_first_run_setup_pages_are_accessible(page, tmp_path) -> None:
    import threading

    from werkzeug.serving import make_server

    from fieldapp import create_app
    from fieldapp.security import closing_on_disconnect
    from fieldapp.services import setup

    from ..conftest import make_config

    app = create_app(make_config(tmp_path))
    with app.app_context():
        db.create_all()
        token = setup.issue_setup_token(db.session)
        db.session.commit()
    server = make_server("127.0.0.1", 0, closing_on_disconnect(app), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/setup/{token}")
        pages = []
        pages.append(Axe().run(page).response["violations"])
        page.fill("#username", "primera")
        for field in ("#passphrase", "#passphrase_again"):
            page.fill(field, "entrada segura 2026")
        for field in ("#key_passphrase", "#key_passphrase_again"):
            page.fill(field, "llave del equipo 2026")
        page.click("button[type=submit]")
        page.wait_for_selector("text=Frase de recuperación")
        pages.append(Axe().run(page).response["violations"])
        page.goto(f"http://127.0.0.1:{server.server_port}/setup/{token}")  # spent
        pages.append(Axe().run(page).response["violations"])
    finally:
        server.shutdown()
        with app.app_context():
            db.engine.dispose()
    serious = [
        (v["id"], v["help"]) for violations in pages for v in violations if v["impact"] in ("serious", "critical")
    ]
    assert serious == []
