"""Quick exit on the phone, in Chromium at full speed and with DevTools CPU throttling at 4x and 6x (a cheap
phone): from the tap on "Cerrar" on an open report form with answers to the locked screen under the phone's
look, with the last answer kept as a draft and the keys dropped. Target: within a second.

    python bench/quick_exit.py [--runs 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from field_app import CHROMIUM_ARGS, PIN, code_for, start_server  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

# Timed inside the page: the tap, then a poll on every animation frame until the PIN pad is shown.
EXIT = """
() => new Promise((resolve) => {
  const started = performance.now();
  document.querySelector("[data-quick-exit]").click();
  const look = () => {
    if (document.querySelector("#pin")) resolve(performance.now() - started);
    else requestAnimationFrame(look);
  };
  look();
})
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        app, server, url = start_server(Path(tmp))
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        print(
            f"{'CPU':>5} {'median ms':>10} {'worst ms':>9}"
            f"   (quick exit from a filled form to the lock, {args.runs} runs)"
        )
        for rate in (1, 4, 6):
            context = browser.new_context(locale="es-PE", viewport={"width": 360, "height": 740})
            page = context.new_page()
            page.goto(url + "/")
            page.fill("#code", code_for(app))
            page.click("text=Conectar este teléfono")
            page.fill("#pin-new", PIN)
            page.fill("#pin-again", PIN)
            page.click("form.pin-form button.primary")
            page.wait_for_selector("h1:text('Informes')")
            cdp = context.new_cdp_session(page)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
            times = []
            for run in range(args.runs):
                page.click("text=Nuevo informe")
                page.select_option("#f-department", "17")
                page.fill("#f-notes", f"Relato {run}: lo que vio y oyó. " * 20)  # the last change, not yet kept
                times.append(page.evaluate(EXIT))
                assert page.evaluate("async () => (await import('/static/js/lock.js')).openKey()") is None
                page.fill("#pin", PIN)
                page.click("form.pin-form button.primary")
                page.wait_for_selector("h1:text('Informes')", timeout=60000)
                page.evaluate(
                    "async () => { const db = await import('/static/js/db.js');"
                    " await db.deleteDrafts((await db.draftEntries()).map((d) => d.id)); }"
                )
            print(f"{rate:>4}x {statistics.median(times):>10.0f} {max(times):>9.0f}")
            context.close()
        browser.close()
        server.shutdown()
    print("target: locked within 1000 ms of the tap, the form's last change kept as a draft first")


if __name__ == "__main__":
    sys.exit(main())
