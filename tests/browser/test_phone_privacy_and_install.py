"""What stays on the phone, what it loads, how it installs and updates, and who can use it."""

from __future__ import annotations

import json
import uuid

import pytest
from axe_playwright_python.sync_playwright import Axe

import fieldapp.web.precache as precache

from .conftest import (
    PHONE_LOCALE,
    enrol,
    open_app,
    past_fingerprint,
    queued,
    save_report,
    wait_for_queued,
    wait_for_service_worker,
)

STORAGE_DUMP = """
async () => {
  const out = [];
  const read = (request) => new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  for (const info of await indexedDB.databases()) {
    const db = await read(indexedDB.open(info.name));
    for (const name of db.objectStoreNames) {
      out.push(JSON.stringify(await read(db.transaction(name).objectStore(name).getAll())));
    }
    db.close();
  }
  for (const cacheName of await caches.keys()) {
    const cache = await caches.open(cacheName);
    for (const request of await cache.keys()) {
      out.push(request.url, await (await cache.match(request)).text());
    }
  }
  out.push(JSON.stringify({ ...localStorage }), JSON.stringify({ ...sessionStorage }));
  return out.join("\\n");
}
"""


def test_a_saved_report_leaves_no_readable_trace(page, context, live_server) -> None:
    enrol(page, live_server)
    wait_for_service_worker(page)
    context.set_offline(True)
    canary = f"CANARY-{uuid.uuid4().hex}"
    save_report(page, canary)
    queued_dump = page.evaluate(STORAGE_DUMP)
    assert '"state":"queued"' in queued_dump and '"ct":"' in queued_dump  # the sealed report is there...
    assert canary not in queued_dump  # ... and nothing readable is
    assert "/static/js/app.js" in queued_dump  # the caches were searched
    context.set_offline(False)
    wait_for_queued(page, 0)
    assert canary not in page.evaluate(STORAGE_DUMP)
    page.goto(live_server.url + "/?lang=qu")  # a language preview, too
    open_app(page)
    page.wait_for_selector("label[for=language]")
    assert context.cookies() == []  # the server gave the phone no cookie to carry


def test_installable_and_loads_nothing_from_another_host(profile_context, live_server) -> None:
    context = profile_context
    page = context.pages[0] if context.pages else context.new_page()
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    enrol(page, live_server)
    wait_for_service_worker(page)
    page.reload()
    open_app(page)
    save_report(page, "sin nombres")
    cdp = context.new_cdp_session(page)
    assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    assert requested and all(url.startswith(live_server.url + "/") for url in requested), [
        u for u in requested if not u.startswith(live_server.url)
    ]
    manifest = page.evaluate("fetch('/manifest.webmanifest').then((r) => r.json())")
    purposes = {purpose for icon in manifest["icons"] for purpose in icon["purpose"].split()}
    assert manifest["display"] == "standalone" and purposes >= {"any", "maskable"}


def test_update_waits_and_keeps_queued_reports(page, context, live_server, monkeypatch) -> None:
    enrol(page, live_server)
    wait_for_service_worker(page)
    unavailable = lambda route: route.fulfill(status=503, content_type="application/problem+json", body="{}")  # noqa: E731
    context.route("**/api/v1/reports", unavailable)  # the page's requests and the service worker's
    for i in range(2):
        save_report(page, f"antes de actualizar {i}", quick=True)
    wait_for_queued(page, 2)
    monkeypatch.setattr(precache, "version", lambda app, files=None: "nueva-version")
    page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
    page.wait_for_selector("text=Hay una versión nueva")
    assert page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.waiting !== null)")  # it waits
    page.click("text=Actualizar")
    page.wait_for_function(
        "() => navigator.serviceWorker.controller && navigator.serviceWorker.controller.scriptURL.endsWith('/sw.js')"
    )
    open_app(page)
    page.wait_for_function("() => caches.keys().then((k) => k.join() === 'shell-nueva-version')")
    assert queued(page) == 2
    context.unroute("**/api/v1/reports")
    page.click("text=Enviar ahora")
    wait_for_queued(page, 0)


CAMERA_THAT_SEES_NO_CODE = """
navigator.mediaDevices.getUserMedia = async () => {
  const canvas = document.createElement('canvas');
  canvas.getContext('2d').fillRect(0, 0, 10, 10);
  return canvas.captureStream();
};
window.BarcodeDetector = class { async detect() { return []; } };
"""


@pytest.mark.parametrize(
    "screen",
    [
        "enrol",
        "scan",
        "fingerprint",
        "pin setup",
        "lock",
        "home",
        "home with drafts",
        "home with warning",
        "full form",
        "quick form",
        "form errors",
    ],
)
def test_no_serious_accessibility_violations(page, context, live_server, screen) -> None:
    if screen == "scan":
        page.add_init_script(script=CAMERA_THAT_SEES_NO_CODE)
    page.goto(live_server.url + "/")
    if screen == "scan":
        page.click("text=Escanear código QR")
        page.wait_for_selector("video")
    if screen == "fingerprint":
        page.fill("#code", live_server.enrollment_code())
        page.click("text=Conectar este teléfono")
        page.wait_for_selector("[data-testid=fingerprint]")
    if screen == "pin setup":
        page.fill("#code", live_server.enrollment_code())
        page.click("text=Conectar este teléfono")
        past_fingerprint(page)
        page.wait_for_selector("#pin-new")
    if screen not in ("enrol", "scan", "fingerprint", "pin setup"):
        enrol(page, live_server)
    if screen == "lock":
        page.reload()
        page.wait_for_selector("#pin")
    if screen == "home with drafts":
        page.click("text=Nuevo informe")
        page.fill("#f-notes", "x")
        page.wait_for_timeout(1000)  # the draft is written
        page.reload()
        open_app(page)
        page.wait_for_selector("text=Borradores")
    if screen == "home with warning":

        def reject(route) -> None:  # type: ignore[no-untyped-def]
            rids = [envelope["rid"] for envelope in route.request.post_data_json["reports"]]
            results = [{"rid": rid, "status": "rejected", "error": "Versión de sobre no admitida."} for rid in rids]
            route.fulfill(status=200, content_type="application/json", body=json.dumps({"results": results}))

        context.route("**/api/v1/reports", reject)  # the page's requests and the service worker's
        save_report(page, "x", quick=True)
        page.wait_for_selector("text=1 informe no aceptado por el servidor")
    if screen in ("full form", "form errors"):
        page.click("text=Nuevo informe")
    if screen == "quick form":
        page.click("text=Informe rápido")
    if screen == "form errors":
        page.click("text=Guardar y cifrar")
        page.wait_for_selector("text=Revise las preguntas marcadas")
    page.wait_for_selector("h1")
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in serious]


@pytest.mark.parametrize("screen", ["enrol", "home", "full form"])
def test_fits_a_320_pixel_screen(browser, live_server, screen) -> None:
    context = browser.new_context(viewport={"width": 320, "height": 640}, locale=PHONE_LOCALE)
    page = context.new_page()
    page.goto(live_server.url + "/")
    if screen != "enrol":
        enrol(page, live_server)
    if screen == "full form":
        page.click("text=Nuevo informe")
    page.wait_for_selector("h1")
    assert page.evaluate("document.documentElement.scrollWidth") <= 320  # no sideways scrolling
    small = page.evaluate(
        """() => [...document.querySelectorAll('button, input:not([type=checkbox]):not([type=radio]), select')]
             .filter((e) => e.offsetParent && e.getBoundingClientRect().height < 44).map((e) => e.outerHTML)"""
    )
    assert small == []  # large touch targets
    context.close()


def test_shows_whether_storage_is_persistent(page, live_server) -> None:
    enrol(page, live_server)
    granted = page.evaluate("navigator.storage.persisted()")
    text = page.inner_text('[data-testid="storage"]')
    assert ("concedido." in text and "no concedido" not in text) if granted else "no concedido" in text
