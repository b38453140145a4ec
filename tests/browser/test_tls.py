"""A base on a local Wi-Fi: `fieldapp serve --tls` with the base's own authority, reached by name from a phone
that trusts that authority. Over HTTPS the service worker registers, WebCrypto seals, and reports sync."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright
from werkzeug.serving import make_server

from fieldapp import crypto
from fieldapp.crypto import tls
from fieldapp.extensions import db
from fieldapp.models import Report
from fieldapp.security import AnonymousRequestHandler, closing_on_disconnect

from .conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE_LOCALE,
    LiveServer,
    enrol,
    save_report,
    seeded_app,
    wait_for_queued,
)

BASE_NAME = "base-huepetuhe.local"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, tls.LocalTls]]:
    tmp: Path = tmp_path_factory.mktemp("base")
    app, private, kid, translations = seeded_app(tmp, "Madre de Dios 1")
    made = tls.make_local_tls([BASE_NAME], [])
    (tmp / "server.pem").write_bytes(made.server_cert)
    (tmp / "server-key.pem").write_bytes(made.server_key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp / "server.pem", tmp / "server-key.pem")  # as serve --tls loads them
    server = make_server(
        "127.0.0.1",
        0,
        closing_on_disconnect(app),
        threaded=True,
        request_handler=AnonymousRequestHandler,
        ssl_context=context,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"https://{BASE_NAME}:{server.server_port}"
    yield LiveServer(app, url, private, kid, "Madre de Dios 1", translations), made
    server.shutdown()


@pytest.fixture(scope="module")
def trusting_phone(playwright: Playwright, base) -> Iterator[Browser]:
    """A phone that installed the base's authority (its key pinned by hash) and finds the base by its name."""
    _, made = base
    args = [
        *CHROMIUM_ARGS,
        f"--host-resolver-rules=MAP {BASE_NAME} 127.0.0.1",
        f"--ignore-certificate-errors-spki-list={tls.spki_sha256(made.ca_cert)}",
    ]
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
    yield launched
    launched.close()


def test_over_the_bases_https_the_app_installs_seals_and_syncs(trusting_phone, base) -> None:
    server, _ = base
    context = trusting_phone.new_context(viewport={"width": 360, "height": 740}, locale=PHONE_LOCALE)
    page = context.new_page()
    page.goto(server.url + "/")
    assert page.evaluate("() => window.isSecureContext && Boolean(crypto.subtle)")  # what plain http:// lacks
    enrol(page, server)
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    assert page.evaluate("async () => (await navigator.serviceWorker.getRegistration()) !== undefined")
    save_report(page, "Desde la wifi de la base")
    wait_for_queued(page, 0, timeout=30_000)
    with server.app.app_context():
        [stored] = db.session.query(Report).all()
        document = crypto.open_envelope(json.loads(stored.envelope), {server.kid: server.private})
    assert document["answers"]["notes"] == "Desde la wifi de la base"
    context.close()


def test_a_phone_that_does_not_trust_the_base_gets_no_page(playwright: Playwright, base) -> None:
    """Without the authority the certificate is refused: nothing of the app loads, so nothing is sealed wrongly."""
    server, _ = base
    untrusting = playwright.chromium.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {BASE_NAME} 127.0.0.1"]
    )
    page = untrusting.new_page()
    with pytest.raises(Exception, match="ERR_CERT"):
        page.goto(server.url + "/")
    untrusting.close()
