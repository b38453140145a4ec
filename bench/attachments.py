"""Voice notes on the phone, in Chromium: sealing throughput and memory, and sending one over a slow link.

    python bench/attachments.py

1. Sealing throughput: MB/s of the app's own `sealForServer` (a file's SHA-256, then its 256 KiB chunks
   under AES-256-GCM) against a bare AES-GCM loop over the same chunks with one imported key, in the same
   page. Target: at least 0.8.
2. Peak memory while sealing a 10-minute recording (1.8 MB at 24 kbit/s): the JS heap and array-buffer
   memory (CDP Runtime.getHeapUsage) sampled during the seal, above the baseline, as a multiple of the file.
3. A 5-minute voice note (900,000 bytes, 4 chunks) sent by the outbox over an emulated link (DevTools:
   250 kbit/s down, 50 kbit/s up, 400 ms latency), divided by that link's floor: bytes up / upload rate +
   bytes down / download rate + one round trip per request. Target: under 1.15.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from field_app import CHROMIUM_ARGS, DOWN_BPS, LATENCY_S, PIN, UP_BPS, code_for, start_server  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

THROUGHPUT = """
async (megabytes) => {
  const { sealForServer } = await import('/static/js/attachments.js');
  const bytes = crypto.getRandomValues(new Uint8Array(65536));
  const file = new Uint8Array(megabytes * 1024 * 1024);
  for (let i = 0; i < file.length; i += bytes.length) file.set(bytes, i);
  const media = [{ id: crypto.randomUUID(), kind: 'audio', mime: 'audio/webm', bytes: file, durationMs: 1 }];
  await sealForServer(media);  // warm up
  let started = performance.now();
  await sealForServer(media);
  const app = performance.now() - started;
  const key = await crypto.subtle.importKey('raw', new Uint8Array(32), 'AES-GCM', false, ['encrypt']);
  started = performance.now();
  for (let i = 0; i * 262144 < file.length; i++) {
    const iv = new Uint8Array(12);
    new DataView(iv.buffer).setBigUint64(4, BigInt(i));
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, file.subarray(i * 262144, (i + 1) * 262144));
  }
  const bare = performance.now() - started;
  started = performance.now();
  await crypto.subtle.digest('SHA-256', file);
  const digest = performance.now() - started;
  return { app, bare, digest };
}
"""

SEAL_TEN_MINUTES = """
async () => {
  const { sealForServer } = await import('/static/js/attachments.js');
  const file = new Uint8Array(1_800_000);
  for (let i = 0; i < file.length; i += 65536) crypto.getRandomValues(file.subarray(i, i + 65536));
  window.__sealed = null;
  await new Promise((r) => setTimeout(r, 300));
  const media = [{ id: crypto.randomUUID(), kind: 'audio', mime: 'audio/webm', bytes: file, durationMs: 600000 }];
  window.__sealed = (await sealForServer(media)).parts.length;
}
"""

QUEUE_VOICE_NOTE = """
async (size) => {
  const { sealForServer } = await import('/static/js/attachments.js');
  const c = await import('/static/js/crypto.js');
  const db = await import('/static/js/db.js');
  const kept = await import('/static/js/kept.js');
  const key = (await kept.read('bootstrap')).keys.find((k) => k.current);
  const file = new Uint8Array(size);
  for (let i = 0; i < file.length; i += 65536) crypto.getRandomValues(file.subarray(i, i + 65536));
  const rid = crypto.randomUUID();
  const media = [{ id: crypto.randomUUID(), kind: 'audio', mime: 'audio/webm', bytes: file, durationMs: 300000 }];
  const { entries, att, parts } = await sealForServer(media);
  const doc = { form: 'trafficking-report', form_version: 1, created_at: new Date().toISOString(), locale: 'es',
                answers: {}, attachments: entries };
  const envelope = await c.sealDocument(doc, c.b64uDecode(key.pub), rid, att);
  const note = await kept.savedNote(rid, '2026-12-02', { [entries[0].aid]: 'audio' });
  await db.addToOutboxFromDraft(envelope, note, rid, parts);
  return parts.length;
}
"""

QUEUED_IS = "(n) => document.querySelector('[data-testid=queued]')?.textContent === String(n)"


def throughput(browser, url: str) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(url + "/")
    megabytes = 16
    t = page.evaluate(THROUGHPUT, megabytes)
    app_rate, bare_rate = megabytes / (t["app"] / 1000), megabytes / (t["bare"] / 1000)
    print(f"sealing {megabytes} MB in the browser (SHA-256 of the file, then 256 KiB chunks under AES-256-GCM):")
    print(
        f"  sealForServer {app_rate:.0f} MB/s, bare AES-GCM loop {bare_rate:.0f} MB/s; "
        f"ratio {app_rate / bare_rate:.2f}   target >= 0.8"
    )
    sealing_only = megabytes / ((t["app"] - t["digest"]) / 1000)
    print(
        f"  of which the file's SHA-256: {t['digest']:.0f} ms of {t['app']:.0f} ms; the chunks' sealing alone "
        f"{sealing_only:.0f} MB/s, ratio {sealing_only / bare_rate:.2f}"
    )
    page.close()


def peak_memory(browser, url: str) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(url + "/")
    cdp = page.context.new_cdp_session(page)
    cdp.send("HeapProfiler.collectGarbage")

    def used() -> int:
        usage = cdp.send("Runtime.getHeapUsage")
        return int(usage["usedSize"] + usage.get("backingStorageSize", 0))

    baseline = peak = used()
    # Started without waiting for it (evaluate would), then sampled until it has finished.
    page.evaluate(f"() => {{ window.__sealed = null; ({SEAL_TEN_MINUTES})(); }}")
    while page.evaluate("() => window.__sealed === null"):
        peak = max(peak, used())
    peak = max(peak, used())
    size = 1_800_000
    print("peak memory while sealing a 10-minute recording (1.8 MB), JS heap and array buffers over baseline:")
    print(f"  {(peak - baseline) / 1e6:.1f} MB, {(peak - baseline) / size:.1f}x the recording")
    page.close()


def slow_link_voice_note(browser, app, url: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(service_workers="block", locale="es-PE")
    page = context.new_page()
    page.goto(url + "/")
    page.fill("#code", code_for(app))
    page.click("text=Conectar este teléfono")
    page.fill("#pin-new", PIN)
    page.fill("#pin-again", PIN)
    page.click("form.pin-form button.primary")
    page.wait_for_selector("h1:text('Informes')")
    context.route("**/api/v1/**", lambda route: route.abort())  # kept queued while it is made
    chunks = page.evaluate(QUEUE_VOICE_NOTE, 900_000)
    page.reload()
    page.fill("#pin", PIN)
    page.click("form.pin-form button.primary")
    page.wait_for_function(QUEUED_IS, arg=1)
    sent: list[tuple[int, int]] = []

    def record(response) -> None:  # type: ignore[no-untyped-def]
        if "/api/v1/" in response.url and "/bootstrap" not in response.url:
            request = response.request
            up = len(request.post_data_buffer or b"") + sum(len(k) + len(v) + 4 for k, v in request.headers.items())
            try:
                body = len(response.body())
            except Exception:  # a 204 has none to read
                body = 0
            down = body + sum(len(k) + len(v) + 4 for k, v in response.headers.items())
            sent.append((up, down))

    page.on("response", record)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": LATENCY_S * 1000, "downloadThroughput": DOWN_BPS, "uploadThroughput": UP_BPS},
    )
    context.unroute("**/api/v1/**")
    start = time.perf_counter()
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_function(QUEUED_IS, arg=0, timeout=600_000)
    elapsed = time.perf_counter() - start
    page.wait_for_timeout(500)
    up = sum(s[0] for s in sent)
    down = sum(s[1] for s in sent)
    floor = up / UP_BPS + down / DOWN_BPS + LATENCY_S * len(sent)
    print(f"a 5-minute voice note (900,000 bytes, {chunks} chunks) over 250 kbit/s down, 50 kbit/s up, 400 ms:")
    print(
        f"  {len(sent)} request(s), {up / 1024:.1f} KB up, {down / 1024:.1f} KB down; took {elapsed:.1f} s, "
        f"floor {floor:.1f} s; ratio {elapsed / floor:.2f}   target < 1.15"
    )
    context.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app, server, url = start_server(Path(tmp))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            throughput(browser, url)
            peak_memory(browser, url)
            slow_link_voice_note(browser, app, url)
            browser.close()
        server.shutdown()


if __name__ == "__main__":
    main()
