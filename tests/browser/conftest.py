"""Real-browser fixtures: one live server and one Chromium per session, a fresh browser context per test.

Chromium is Debian's (/usr/bin/chromium), driven by Playwright; only 127.0.0.1 is a secure context over
plain HTTP, so every test navigates to the live server before it touches WebCrypto or a service worker.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from werkzeug.serving import make_server

from fieldapp import create_app, crypto
from fieldapp.extensions import db
from fieldapp.models import Role
from fieldapp.services import devices, keys, users

from ..conftest import FAST_KDF, KEY_PASSPHRASE, LOGIN_PASSPHRASE, make_config

CHROMIUM = "/usr/bin/chromium"
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

    def enrollment_code(self) -> str:
        with self.app.app_context():
            code = devices.issue_code(db.session, devices.find_team(db.session, self.team))
            db.session.commit()
            return code


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp: Path = tmp_path_factory.mktemp("live")
    app = create_app(make_config(tmp))
    with app.app_context():
        db.create_all()
        admin = users.create_user(db.session, "ana", Role.ADMIN.value, LOGIN_PASSPHRASE, FAST_KDF)
        new = keys.create_managed_key(db.session, admin, KEY_PASSPHRASE, FAST_KDF)
        devices.create_team(db.session, "Puno 1")
        kid = new.key.kid
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(
        app, f"http://127.0.0.1:{server.server_port}", crypto.load_private_key(new.private_der), kid, "Puno 1"
    )
    server.shutdown()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 360, "height": 740})
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
