"""Real-browser fixtures: one live server and one Chromium per session, a fresh browser context per test.

Chromium is Debian's (/usr/bin/chromium), driven by Playwright; only 127.0.0.1 is a secure context over
plain HTTP, so every test navigates to the live server before it touches WebCrypto or a service worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from werkzeug.serving import make_server

from fieldapp import create_app, crypto
from fieldapp.extensions import db
from fieldapp.models import Role
from fieldapp.security import AnonymousRequestHandler, closing_on_disconnect
from fieldapp.services import enrollment, keys, teams, users

from ..conftest import FAST_KDF, KEY_PASSPHRASE, LOGIN_PASSPHRASE, copy_of_translations, make_config

CHROMIUM = "/usr/bin/chromium"
PHONE_LOCALE = "es-PE"  # a phone set up in Peru; the app and the dashboard follow the browser's language
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class LiveServer:
    app: Flask
    url: str
    private: ec.EllipticCurvePrivateKey
    kid: str
    team: str
    translations: Path

    def enrollment_code(self, look: str | None = None) -> str:
        with self.app.app_context():
            code = enrollment.issue_code(db.session, teams.find_team(db.session, self.team), look=look)
            db.session.commit()
            return code


def seeded_app(tmp: Path, team: str) -> tuple[Flask, ec.EllipticCurvePrivateKey, str, Path]:
    """An app on a fresh database with an admin (ana), her managed key and one team: (app, key, kid, catalogs)."""
    translations = copy_of_translations(tmp / "translations")  # tests may add a language or change a catalog
    app = create_app(make_config(tmp, translations_dir=translations))
    with app.app_context():
        db.create_all()
        admin = users.create_user(db.session, "ana", Role.ADMIN.value, LOGIN_PASSPHRASE, FAST_KDF)
        new = keys.create_managed_key(db.session, admin, KEY_PASSPHRASE, FAST_KDF)
        teams.create_team(db.session, team)
        kid = new.key.kid
        db.session.commit()
    return app, crypto.load_private_key(new.private_der), kid, translations


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp: Path = tmp_path_factory.mktemp("live")
    app, private, kid, translations = seeded_app(tmp, "Puno 1")
    server = make_server(
        "127.0.0.1", 0, closing_on_disconnect(app), threaded=True, request_handler=AnonymousRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(app, f"http://127.0.0.1:{server.server_port}", private, kid, "Puno 1", translations)
    server.shutdown()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def profile_context(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    """A browser with a real profile on disk (not incognito), as an installed app has."""
    ctx = playwright.chromium.launch_persistent_context(
        tmp_path / "profile",
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        viewport={"width": 360, "height": 740},
        locale=PHONE_LOCALE,
    )
    yield ctx
    ctx.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, locale=PHONE_LOCALE)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


# ---------------------------------------------------------------- helpers that act as the field worker


PIN = "482913"


def enrol(page: Page, live_server: LiveServer, look: str | None = None) -> None:
    page.goto(live_server.url + "/")
    page.fill("#code", live_server.enrollment_code(look))
    page.click("text=Conectar este teléfono")
    choose_pin(page)
    page.wait_for_selector("h1:text('Informes')")


def choose_pin(page: Page, pin: str = PIN) -> None:
    """The PIN chosen right after enrolment (the screen's words may be in any language), once the worker has
    compared the organisation's fingerprint a typed code brings (it matches: the supervisor's screen is the
    live server's)."""
    past_fingerprint(page)
    page.wait_for_selector("#pin-new")
    page.fill("#pin-new", pin)
    page.fill("#pin-again", pin)
    page.click("form.pin-form button.primary")
    page.wait_for_selector("#pin-new", state="detached", timeout=15000)


def past_fingerprint(page: Page) -> None:
    """After a typed code: the fingerprint screen, if the server signs its keys, answered "they match"."""
    page.wait_for_selector("#pin-new, [data-testid=fingerprint]", timeout=20000)
    if page.is_visible("[data-testid=fingerprint]"):
        page.click("button.primary")


def open_app(page: Page, pin: str = PIN) -> None:
    """The app as a worker opens it, after a reload or a new page: the lock first, then the PIN (on the
    calculator look, typed as a number, then "=")."""
    page.wait_for_selector("#pin, .pad.calculator")
    if page.is_visible(".pad.calculator"):
        for digit in pin:
            page.click(f".pad.calculator button:text-is('{digit}')")
        page.click(".pad.calculator button:text-is('=')")
        page.wait_for_selector(".pad.calculator", state="detached", timeout=15000)
        return
    page.fill("#pin", pin)
    page.click("form.pin-form button.primary")
    page.wait_for_selector("#pin", state="detached", timeout=15000)


def wait_until(page: Page, predicate: str, seconds: float = 10) -> None:
    """Polls an async predicate in the page (wait_for_function takes a pending promise for a true value)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(predicate):
        assert time.monotonic() < deadline, predicate
        page.wait_for_timeout(100)


def wait_for_service_worker(page: Page) -> None:
    """Until the worker has cached the shell and controls the page: from then on it works offline."""
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15000)


def queued(page: Page) -> int:
    return int(page.inner_text('[data-testid="queued"]'))


def wait_for_queued(page: Page, count: int, timeout: float = 20000) -> None:
    page.wait_for_function(
        "n => Number(document.querySelector('[data-testid=queued]')?.textContent) === n",
        arg=count,
        timeout=timeout,
    )


def save_report(page: Page, notes: str, department: str = "17", quick: bool = False) -> None:
    page.click("text=Informe rápido" if quick else "text=Nuevo informe")
    page.select_option("#f-department", department)
    page.check("input[name=place_kind][value=mining_camp]")
    page.check("input[name=exploitation_type][value=ForcedLabour]")
    if not quick:
        page.check("input[name=sector][value=B_MiningAndQuarrying]")
        page.check("input[name=forced_labour_indicators][value=debt_bondage]")
        page.fill("#f-notes", notes)
    page.click("text=Guardar y cifrar")
    page.wait_for_selector("text=Informe guardado y cifrado")


def exported_documents(live_server: LiveServer, tmp_path: Path) -> list[dict]:
    """What a supervisor's `fieldapp export` decrypts, as documents."""
    import json

    out = tmp_path / "export.jsonl"
    result = live_server.app.test_cli_runner().invoke(
        args=["export", "--as", "ana", "--out", str(out)], env={"FIELDAPP_PASSPHRASE": KEY_PASSPHRASE}
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line)["document"] for line in out.read_text("utf-8").splitlines()]
