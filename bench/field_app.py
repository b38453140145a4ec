"""The field app on a phone: bytes of the first install, sync time over a slow link, seal time.

    python bench/field_app.py

1. First install: every file the service worker precaches, plus the bootstrap answer, as the server sends them
   to a phone (gzip, which every browser asks for: fieldapp/compression.py) and uncompressed. Target: under
   200 KB without icons, as sent.
2. Sync of 50 queued reports over an emulated slow link (DevTools: 250 kbit/s down, 50 kbit/s up, 400 ms
   latency), divided by that link's floor: bytes up / upload rate + bytes down / download rate + one round
   trip per request. Target: under 1.5.
3. Sealing one report in Chromium's WebCrypto (mean over many, as performance.now() is coarse).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from fieldapp import create_app  # noqa: E402
from fieldapp.config import Config  # noqa: E402
from fieldapp.crypto import KdfParams  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.models import Role  # noqa: E402
from fieldapp.security import AnonymousRequestHandler  # noqa: E402
from fieldapp.services import enrollment, keys, teams, users  # noqa: E402
from fieldapp.web.precache import SEALED_SCREENS, precache_urls  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
DOWN_BPS, UP_BPS, LATENCY_S = 250_000 / 8, 50_000 / 8, 0.4
QUEUED = 50
QUEUED_IS = (
    "n => Number(document.querySelector('[data-testid=queued]')?.textContent) === n"  # a function: CSP forbids eval
)

TYPICAL_REPORT = {
    "department": "17",
    "province": "1701",
    "place_kind": "mining_camp",
    "people_count": 3,
    "sex": ["Feminine"],
    "age_band": ["14_17", "18_24"],
    "minors": True,
    "nationality": ["PE", "VE"],
    "exploitation_type": ["ForcedLabour", "SexualExploitation"],
    "sector": "B_MiningAndQuarrying",
    "forced_labour_indicators": ["deception", "debt_bondage", "retention_of_identity_documents"],
    "recruitment_method": ["FalseJobOffer", "ThroughOnlineSocialNetworks"],
    "recruitment_apps": ["Facebook", "WhatsApp"],
    "urgent": True,
    "consent_to_refer": "yes",
    "notes": "Oferta de trabajo falsa como cocinera en un campamento; deuda por el pasaje y la comida. " * 3,
}


def start_server(tmp: Path):  # type: ignore[no-untyped-def]
    (tmp / "instance").mkdir()
    config = Config(
        secret_key="b" * 40,
        database_url=f"sqlite:///{tmp / 'bench.db'}",
        instance_path=tmp / "instance",
        kdf=KdfParams(n=2**10),
    )
    app = create_app(config)
    with app.app_context():
        db.create_all()
        admin = users.create_user(db.session, "ana", Role.ADMIN.value, "entrada segura 2026", config.kdf)
        keys.create_managed_key(db.session, admin, "llave del equipo 2026", config.kdf)
        teams.create_team(db.session, "bench")
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=AnonymousRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return app, server, f"http://127.0.0.1:{server.server_port}"


def code_for(app) -> str:  # type: ignore[no-untyped-def]
    with app.app_context():
        code = enrollment.issue_code(db.session, teams.find_team(db.session, "bench"))
        db.session.commit()
        return code


def enrol_phone(page, app, url: str) -> None:  # type: ignore[no-untyped-def]
    """A new phone enrolled with a fresh code and given its PIN, as a worker does: home on screen."""
    page.goto(url + "/")
    page.fill("#code", code_for(app))
    page.click("text=Conectar este teléfono")
    page.fill("#pin-new", PIN)  # the PIN chosen after enrolment, and asked for at every start
    page.fill("#pin-again", PIN)
    page.click("form.pin-form button.primary")
    page.wait_for_selector("h1:text('Informes')")


def first_install_bytes(app) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    with app.app_context():
        urls = precache_urls(app) + list(SEALED_SCREENS)  # the screens kept sealed are fetched once too
    phone = {"Accept-Encoding": "gzip, deflate, br"}  # what Chrome on a phone sends
    sizes, sent = {}, {}
    for url in urls:
        for headers, into in (({}, sizes), (phone, sent)):
            answer = client.get(url, headers=headers)
            into[url] = answer.get_data()
            answer.close()
    code = code_for(app)
    token = client.post("/api/v1/enroll", json={"code": code}).json["device_token"]
    device = {"Authorization": f"Bearer {token}"}
    bootstrap = client.get("/api/v1/bootstrap", headers=device).get_data()
    bootstrap_sent = client.get("/api/v1/bootstrap", headers={**device, **phone}).get_data()

    def without_icons(files: dict[str, bytes]) -> int:
        return sum(len(b) for u, b in files.items() if not u.startswith("/static/icons/"))

    raw = without_icons(sizes) + len(bootstrap)
    on_the_wire = without_icons(sent) + len(bootstrap_sent)
    icons = sum(len(b) for u, b in sizes.items() if u.startswith("/static/icons/"))
    print(f"first install: {len(urls)} files (cached, or kept sealed) + bootstrap")
    print(f"  without icons, as sent to a phone: {on_the_wire / 1024:6.1f} KB   target < 200 KB")
    print(f"  without icons, uncompressed:       {raw / 1024:6.1f} KB")
    print(f"  icons: {icons / 1024:.1f} KB; bootstrap (keys, forms, locales): {len(bootstrap) / 1024:.1f} KB")


PIN = "482913"


def slow_link_sync(browser, app, url: str) -> None:  # type: ignore[no-untyped-def]
    # The page's own sync is what is measured; a phone set up in Peru (the app follows its language).
    context = browser.new_context(service_workers="block", locale="es-PE")
    page = context.new_page()
    enrol_phone(page, app, url)
    context.route("**/api/v1/reports", lambda route: route.abort())  # keep them queued while filling
    page.evaluate(
        """async ([answers, count]) => {
          const c = await import('/static/js/crypto.js');
          const db = await import('/static/js/db.js');
          const kept = await import('/static/js/kept.js');  // the bootstrap is sealed to the phone's key
          const key = (await kept.read('bootstrap')).keys.find((k) => k.current);
          for (let i = 0; i < count; i++) {
            const doc = { form: 'trafficking-report', form_version: 1, created_at: new Date().toISOString(),
                          locale: 'es', answers, attachments: [] };
            const envelope = await c.sealDocument(doc, c.b64uDecode(key.pub));
            await db.addToOutbox(envelope, await kept.savedNote(envelope.rid, '2026-11-29'));
          }
        }""",
        [TYPICAL_REPORT, QUEUED],
    )
    page.reload()
    page.fill("#pin", PIN)
    page.click("form.pin-form button.primary")
    page.wait_for_function(QUEUED_IS, arg=QUEUED)
    sent: list[tuple[int, int]] = []

    def record(response) -> None:  # type: ignore[no-untyped-def]
        if response.url.endswith("/api/v1/reports"):
            request = response.request
            up = len(request.post_data_buffer or b"") + sum(len(k) + len(v) + 4 for k, v in request.headers.items())
            down = len(response.body()) + sum(len(k) + len(v) + 4 for k, v in response.headers.items())
            sent.append((up, down))

    page.on("response", record)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": LATENCY_S * 1000, "downloadThroughput": DOWN_BPS, "uploadThroughput": UP_BPS},
    )
    context.unroute("**/api/v1/reports")  # only now: every attempt from here on is on the slow link
    start = time.perf_counter()
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_function(QUEUED_IS, arg=0, timeout=300_000)
    elapsed = time.perf_counter() - start
    page.wait_for_timeout(500)
    up = sum(s[0] for s in sent)
    down = sum(s[1] for s in sent)
    floor = up / UP_BPS + down / DOWN_BPS + LATENCY_S * len(sent)
    print(f"sync of {QUEUED} queued reports over 250 kbit/s down, 50 kbit/s up, 400 ms latency:")
    print(
        f"  {len(sent)} request(s), {up / 1024:.1f} KB up, {down / 1024:.1f} KB down; took {elapsed:.2f} s, "
        f"floor {floor:.2f} s; ratio {elapsed / floor:.2f}   target < 1.5"
    )
    context.close()


def seal_time(browser, url: str) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(url + "/")
    timings = page.evaluate(
        """async ([answers]) => {
          const c = await import('/static/js/crypto.js');
          const pub = (await crypto.subtle.exportKey('raw',
            (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits'])).publicKey));
          const doc = { form: 'trafficking-report', form_version: 1, created_at: new Date().toISOString(),
                        locale: 'es', answers, attachments: [] };
          const rounds = [];
          for (let r = 0; r < 5; r++) {
            const start = performance.now();
            for (let i = 0; i < 100; i++) await c.sealDocument(doc, new Uint8Array(pub));
            rounds.push((performance.now() - start) / 100);
          }
          return rounds;
        }""",
        [TYPICAL_REPORT],
    )
    size = len(json.dumps({"answers": TYPICAL_REPORT}))
    print(f"sealing one typical report (~{size / 1024:.1f} KB of answers, gzip + P-256 + AES-GCM) in Chromium:")
    spread = f"{min(timings):.2f}-{max(timings):.2f}"
    print(f"  {statistics.median(timings):.2f} ms (median of 5 rounds of 100; rounds {spread})")
    page.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app, server, url = start_server(Path(tmp))
        first_install_bytes(app)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            slow_link_sync(browser, app, url)
            seal_time(browser, url)
            browser.close()
        server.shutdown()


if __name__ == "__main__":
    main()
