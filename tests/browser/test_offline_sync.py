"""The field worker's day without signal: nothing lost, nothing doubled, everything sent when signal returns."""

from __future__ import annotations

import uuid

from .conftest import (
    choose_pin,
    enrol,
    exported_documents,
    open_app,
    queued,
    save_report,
    wait_for_queued,
    wait_for_service_worker,
    wait_until,
)


def test_offline_reports_survive_reloads_and_sync_exactly_once(page, context, live_server, tmp_path) -> None:
    enrol(page, live_server)
    wait_for_service_worker(page)
    context.set_offline(True)
    page.reload()
    open_app(page)  # the shell came from the service worker
    tag = uuid.uuid4().hex
    for i in range(3):
        save_report(page, f"{tag} informe {i} — Ñuñoa")
    page.reload()
    open_app(page)
    assert queued(page) == 3
    context.set_offline(False)
    wait_for_queued(page, 0)
    page.wait_for_selector("text=Último envío")
    mine = [d for d in exported_documents(live_server, tmp_path) if tag in d["answers"].get("notes", "")]
    assert sorted(d["answers"]["notes"] for d in mine) == [f"{tag} informe {i} — Ñuñoa" for i in range(3)]
    for doc in mine:
        assert doc["form"] == "trafficking-report" and doc["form_version"] == 2
        assert doc["answers"]["department"] == "17"
        assert doc["answers"]["place_kind"] == "mining_camp"
        assert doc["answers"]["exploitation_type"] == ["ForcedLabour"]
        assert doc["answers"]["sector"] == "B_MiningAndQuarrying"
        assert doc["answers"]["forced_labour_indicators"] == ["debt_bondage"]
        assert "province" not in doc["answers"] and "urgent" not in doc["answers"]


FAKE_CAMERA_AND_DETECTOR = """
(code) => {
  // A camera that shows a blank canvas, and a detector that "reads" the code from it.
  navigator.mediaDevices.getUserMedia = async () => {
    const canvas = document.createElement('canvas');
    canvas.getContext('2d').fillRect(0, 0, 10, 10);
    return canvas.captureStream();
  };
  window.BarcodeDetector = class { async detect() { return [{ rawValue: code }]; } };
}
"""


def test_enrol_by_scanning_a_qr_code(page, live_server) -> None:
    code = live_server.enrollment_code()
    page.add_init_script(script=f"({FAKE_CAMERA_AND_DETECTOR})({code!r})")
    page.goto(live_server.url + "/")
    page.click("text=Escanear código QR")
    choose_pin(page)
    tracks = page.evaluate("document.querySelectorAll('video').length")
    assert tracks == 0  # the camera view is gone once the code is read


def test_no_scan_button_without_a_barcode_detector(page, live_server) -> None:
    page.goto(live_server.url + "/")
    page.wait_for_selector("#code")
    has_detector = page.evaluate("'BarcodeDetector' in window")
    assert page.is_visible("text=Escanear código QR") == has_detector


def test_enrolment_survives_a_cut_before_the_forms_arrive(page, live_server) -> None:
    page.route("**/api/v1/bootstrap", lambda route: route.abort("connectionreset"))
    page.goto(live_server.url + "/")
    page.fill("#code", live_server.enrollment_code())
    page.click("text=Conectar este teléfono")
    choose_pin(page)  # the spent code is not asked for again
    page.unroute("**/api/v1/bootstrap")
    page.reload()
    open_app(page)
    wait_until(page, "async () => Boolean(await (await import('/static/js/db.js')).getSetting('bootstrap'))")
    page.click("text=Informe rápido")
    page.wait_for_selector("#f-department")
