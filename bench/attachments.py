"""Voice notes on the phone (PROTOCOL.md §4–5 and §9): sending one over a slow link, resuming after a cut, sealing
throughput and memory, and a link that drops every 30 s; v1 (256 KiB chunks) and v2 (64 KiB) side by side.

    python bench/attachments.py [--quick] [--minutes 6] [--only 12345]

Serves the app on a fresh SQLite database (bench/field_app.py's server), enrols phones in Debian's Chromium
with Playwright, and fills each outbox from the page with the app's own modules, as `saveReport` does
(`sealForServer`, `sealDocument`, `addToOutboxFromDraft`). Random bytes stand in for the recording. Each of
1., 2. and 5. runs once per protocol version, one after the other (5.: all phones at once).

1. A 5-minute voice note (900,000 bytes: 24 kbit/s for 300 s) sent over 250 kbit/s down, 50 kbit/s up,
   400 ms latency (DevTools network emulation): the time from the `online` event to an empty outbox ÷ the
   link's floor (bytes up ÷ up rate + bytes down ÷ down rate + one latency per request; headers and bodies
   of each request and answer). Target: under 1.15.
2. The same with the link cut once the server has read 60 % of the note's chunk bytes, offline for 5 s,
   then restored: bytes of chunk bodies sent again ÷ one chunk (262,160 bytes in v1, 65,552 in v2). Target:
   at most 1. A cut
   drops every connection at a TCP hop between the phone and the server (`Link`) and turns on DevTools'
   offline mode, which alone would let an upload under way finish at full speed.
3. `sealForServer` on 16 MiB against a bare AES-GCM loop over the same pieces (the version's chunk size) with
   one imported key, in the same page: as at save, where the form made the file's SHA-256 when it listed the
   recording, and cold, with the SHA-256 made in the seal. Target: ratio at least 0.8.
4. Peak memory while sealing a 10-minute recording (1,800,000 bytes): DevTools `Runtime.getHeapUsage`
   (V8 heap and ArrayBuffer backing stores) and the renderer's anonymous resident memory, over baseline.
5. A 2G link (100 kbit/s down, 800 ms) that drops every 30 s (cut as in 2., offline for 3 s; Chromium
   sends `offline` and `online` itself), uplink 20, 30 and 40 kbit/s, a phone per rate and version side by
   side: chunks that complete in 6 minutes, and whether the note arrives.

About 17 minutes in all (6 of them in 5., `--minutes`); `--quick` shrinks sizes and times for a smoke run (~4 min).
The server is wrapped in a WSGI layer that counts the body bytes it reads per request, so what crossed the
link is counted where it arrived.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from field_app import CHROMIUM_ARGS, PIN, QUEUED_IS, TYPICAL_REPORT, enrol_phone, start_server  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from fieldapp.extensions import db  # noqa: E402
from fieldapp.models import Attachment  # noqa: E402

SEALED_CHUNK = {1: 262_144 + 16, 2: 65_536 + 16}  # a full chunk on the wire, by protocol version
VERSIONS = (1, 2)
SLOW = {"down": 250_000, "up": 50_000, "latency": 0.4}  # bits/s, s
TWO_G = {"down": 100_000, "latency": 0.8}
DROP_EVERY_S, DROP_FOR_S = 30, 3
MARKER = f"--fieldapp-bench-attachments={os.getpid()}"  # finds this run's Chromium among the machine's

# -------------------------------------------------------------------------------------------- the server side


class CountingInput:
    """The request body as the app reads it, counted as it arrives: one socket read at a time (a single
    `read(n)` of the whole body would count it only once all of it is in)."""

    STEP = 16 * 1024

    def __init__(self, stream, entry, log) -> None:  # type: ignore[no-untyped-def]
        self.stream, self.entry, self.log = stream, entry, log

    def _count(self, n: int) -> None:
        if n:
            self.entry["read"] += n
            self.entry["last"] = time.perf_counter()
            self.entry.setdefault("first", self.entry["last"])
            self.log.arrived(self.entry, n)

    def _piece(self, size: int) -> bytes:
        reader = getattr(self.stream, "read1", self.stream.read)
        data = reader(min(size, self.STEP))
        self._count(len(data))
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            data = self.stream.read()
            self._count(len(data))
            return data
        out = bytearray()
        while len(out) < size:
            piece = self._piece(size - len(out))
            if not piece:
                break
            out += piece
        return bytes(out)

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, *args):  # type: ignore[no-untyped-def]
        data = self.stream.readline(*args)
        self._count(len(data))
        return data

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.stream, name)


class WireLog:
    """Every API request the server handled: method, path, body bytes read, status, start and end."""

    def __init__(self, wsgi_app) -> None:  # type: ignore[no-untyped-def]
        self.wsgi_app = wsgi_app
        self.lock = threading.Lock()
        self.entries: list[dict] = []
        self.watch: tuple[str, int, threading.Event, Link] | None = None  # (aid, bytes, crossed, link to cut)
        self.watched = 0

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        entry = {
            "method": environ["REQUEST_METHOD"],
            "path": environ.get("PATH_INFO", ""),
            "read": 0,
            "status": None,
            "start": time.perf_counter(),
            "end": None,
        }
        with self.lock:
            self.entries.append(entry)
        environ["wsgi.input"] = CountingInput(environ["wsgi.input"], entry, self)

        def start(status, headers, exc_info=None):  # type: ignore[no-untyped-def]
            entry["status"] = int(status.split()[0])
            return start_response(status, headers, exc_info)

        try:
            return list(self.wsgi_app(environ, start))  # the API's answers are small
        finally:
            entry["end"] = time.perf_counter()

    def arrived(self, entry: dict, n: int) -> None:
        watch = self.watch
        if watch and entry["method"] == "PUT" and f"/attachments/{watch[0]}/" in entry["path"]:
            self.watched += n
            if self.watched >= watch[1] and not watch[2].is_set():
                watch[3].cut()  # at once, from the server's thread: the cut falls where the bytes are
                watch[2].set()

    def chunk_puts(self, aid: str) -> list[dict]:
        with self.lock:
            found = [dict(e) for e in self.entries if e["method"] == "PUT" and f"/attachments/{aid}/" in e["path"]]
        for e in found:
            e["index"] = int(e["path"].rsplit("/", 1)[1])
        return found


class Link:
    """A TCP hop between one phone and the server that can be cut like a radio link. DevTools' offline mode
    alone does not cut anything: it lets a throttled upload under way through at full speed (seen here: a
    chunk at 20 kbit/s arrived whole the moment the page went offline). So a drop cuts every connection
    here first, and refuses new ones until the link is back; DevTools then tells the page it is offline."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.lock = threading.Lock()
        self.open: set[socket.socket] = set()
        self.up = True
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                phone, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if not self.up:
                    phone.close()
                    continue
                server = socket.create_connection(("127.0.0.1", self.target))
                self.open.update((phone, server))
            for a, b in ((phone, server), (server, phone)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            self._close(end)

    def _close(self, end: socket.socket) -> None:
        with self.lock:
            self.open.discard(end)
        try:
            end.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        end.close()

    def cut(self) -> None:
        """Every connection dropped now, and none taken until `restore`."""
        with self.lock:
            self.up = False
            self.cuts += 1
            ends = list(self.open)
        for end in ends:
            self._close(end)

    def restore(self) -> None:
        with self.lock:
            self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


def received_on_server(app, aid: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with app.app_context():
        attachment = db.session.query(Attachment).filter_by(aid=aid).one_or_none()
        return (attachment.received, attachment.chunks) if attachment else (0, 0)


# --------------------------------------------------------------------------------------------- the phone side

QUEUE_NOTE = """async ([size, answers, v]) => {
  const c = await import('/static/js/crypto.js');
  const db = await import('/static/js/db.js');
  const kept = await import('/static/js/kept.js');
  const { sealForServer } = await import('/static/js/attachments.js');
  const { localDate } = await import('/static/js/outbox.js');
  const bootstrap = await kept.read('bootstrap');
  const key = bootstrap.keys.find((k) => k.current);
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  const rid = crypto.randomUUID();
  const aid = crypto.randomUUID();
  const media = [{ id: aid, kind: 'audio', mime: 'audio/webm;codecs=opus', bytes, durationMs: size / 3 }];
  // As saveReport does: sealed for the server, the document sealed with its entries, stored in one go.
  const { entries, att, parts } = await sealForServer(rid, media, v);
  const doc = { form: bootstrap.forms[0].id, form_version: bootstrap.forms[0].version,
                created_at: new Date().toISOString(), locale: 'es', answers, attachments: entries };
  const envelope = await c.sealDocument(doc, c.b64uDecode(key.pub), rid, att, v);
  await db.addToOutboxFromDraft(envelope, await kept.savedNote(rid, localDate(), { [aid]: 'audio' }), rid, parts);
  return { rid, aid, v: envelope.v, chunks: att[0].chunks, bytes: parts.reduce((n, p) => n + p.c.length, 0) };
}"""

# What the page lived through: the outbox's events, `online`/`offline`, the part progress on screen, and
# the moment the outbox was empty (IndexedDB polled every 20 ms once watching starts).
INSTRUMENT = """async () => {
  const { outbox } = await import('/static/js/sync.js');
  const db = await import('/static/js/db.js');
  const b = window.__bench = { events: [], online: 0, offline: 0, shown: [], emptyAt: null, startedAt: null };
  for (const type of ['progress', 'stalled', 'synced', 'idle', 'failed', 'retry', 'disconnected']) {
    outbox.events.addEventListener(type, (e) => b.events.push({ t: performance.now(), type, detail: e.detail }));
  }
  addEventListener('online', () => { b.online += 1; });
  addEventListener('offline', () => { b.offline += 1; });
  new MutationObserver(() => {
    const text = document.querySelector('[data-testid=part-progress] p')?.textContent;
    if (text && b.shown[b.shown.length - 1] !== text) b.shown.push(text);
  }).observe(document.body, { childList: true, subtree: true, characterData: true });
  b.start = () => {
    b.startedAt = performance.now();
    window.dispatchEvent(new Event('online'));
    (async () => {
      while ((await db.outboxEntries()).length) await new Promise((r) => setTimeout(r, 20));
      b.emptyAt = performance.now();
    })();
  };
}"""


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def conditions(down: float, up: float, latency: float, offline: bool = False) -> dict:
    return {"offline": offline, "latency": latency * 1000, "downloadThroughput": down / 8, "uploadThroughput": up / 8}


class Phone:
    """An enrolled, unlocked phone with one voice note queued, its link under DevTools emulation."""

    def __init__(self, browser, app, url: str, size: int, version: int, link: Link | None = None) -> None:  # type: ignore[no-untyped-def]
        self.version = version
        self.wire = link  # None: straight to the server, and only DevTools shapes the link
        url = link.url if link else url
        self.context = browser.new_context(service_workers="block", locale="es-PE")
        self.page = page = self.context.new_page()
        enrol_phone(page, app, url)
        self.context.route("**/api/v1/reports", lambda route: route.abort())  # kept queued while filling
        self.note = page.evaluate(QUEUE_NOTE, [size, TYPICAL_REPORT, version])
        assert self.note["v"] == version
        page.reload()
        page.fill("#pin", PIN)
        page.click("form.pin-form button.primary")
        page.wait_for_function(QUEUED_IS, arg=1)
        page.evaluate(INSTRUMENT)
        self.requests: list[dict] = []  # as the browser saw them (response received)
        self.begun: list[str] = []  # every API request the page began
        self.failed: list[tuple[str, str]] = []
        page.on("request", lambda r: "/api/v1/" in r.url and self.begun.append(f"{r.method} {r.url.split('/v1')[1]}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._record)
        self.cdp = self.context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.started_at = 0.0
        self.restored: list[float] = []  # when the link came back after each drop
        self.link: dict = {}  # the DevTools conditions: down, up (bit/s), latency (s)

    def _failed(self, request) -> None:  # type: ignore[no-untyped-def]
        if "/api/v1/" in request.url:
            self.failed.append((f"{request.method} {request.url.split('/v1')[1]}", request.failure or ""))

    def _record(self, response) -> None:  # type: ignore[no-untyped-def]
        if "/api/v1/reports" in response.url or "/api/v1/attachments/" in response.url:
            request = response.request
            headers_up = sum(len(k) + len(v) + 4 for k, v in request.headers.items())
            headers_down = sum(len(k) + len(v) + 4 for k, v in response.headers.items())
            body_up = request.post_data_buffer
            try:
                body_down = len(response.body())
            except Exception:  # noqa: BLE001 - an answer cut off on the way: its headers still crossed
                body_down = 0
            self.requests.append(
                {
                    "what": f"{request.method} {response.url.split('/v1')[1]}",
                    "status": response.status,
                    "headers_up": headers_up,
                    "body_up": None if body_up is None else len(body_up),
                    "down": headers_down + body_down,
                }
            )

    def set_link(self, down: float, up: float, latency: float) -> None:
        self.link = {"down": down, "up": up, "latency": latency}
        self.cdp.send("Network.emulateNetworkConditions", conditions(down, up, latency))

    def go_offline(self) -> None:
        if self.wire:
            self.wire.cut()
        self.cdp.send("Network.emulateNetworkConditions", conditions(**self.link, offline=True))

    def come_back(self) -> str:
        """The link back; the `online` event as the browser sends it, or sent here if it did not."""
        before = self.page.evaluate("() => window.__bench.online")
        if self.wire:
            self.wire.restore()
        self.cdp.send("Network.emulateNetworkConditions", conditions(**self.link))
        self.restored.append(time.perf_counter())
        self.page.wait_for_timeout(200)
        if self.page.evaluate("() => window.__bench.online") > before:
            return "browser"
        self.page.evaluate("() => window.dispatchEvent(new Event('online'))")
        return "sent"

    def start(self) -> float:
        self.context.unroute("**/api/v1/reports")  # only now: every attempt from here on is on the link
        self.started_at = time.perf_counter()
        self.page.evaluate("() => window.__bench.start()")
        return self.started_at

    def bench(self) -> dict:
        return self.page.evaluate("() => ({ ...window.__bench, start: undefined })")

    def close(self) -> None:
        self.context.close()
        if self.wire:
            self.wire.close()


def floor_of(phone: Phone, log: WireLog) -> tuple[float, int, int]:
    """The link's floor for what crossed it: (seconds, bytes up, bytes down). A request body the browser did
    not report is taken from what the server read."""
    with log.lock:
        server = [
            e
            for e in log.entries
            if e["start"] >= phone.started_at and e["path"].startswith(("/api/v1/reports", "/api/v1/attachments/"))
        ]
    up = down = 0
    for n, request in enumerate(phone.requests):
        body = request["body_up"]
        if body is None:
            body = server[n]["read"] if n < len(server) else 0
        up += request["headers_up"] + body
        down += request["down"]
    link = phone.link
    return up / (link["up"] / 8) + down / (link["down"] / 8) + link["latency"] * len(phone.requests), up, down


def resume_delays(phone: Phone, puts: list[dict]) -> str:
    """For each time the link came back: seconds until the next chunk's PUT reached the server (its headers;
    DevTools lets an upload's body through 16 KiB at a time, so its first byte says more of the rate)."""
    delays = []
    for back in phone.restored:
        firsts = [p["start"] for p in puts if p["start"] > back]
        delays.append(f"{min(firsts) - back:.1f}" if firsts else "-")
    return ", ".join(delays) or "-"


def shown_parts(bench: dict) -> str:
    return " → ".join(bench["shown"]) if bench["shown"] else "none"


def part_events(bench: dict) -> list[int]:
    return [e["detail"]["part"]["index"] for e in bench["events"] if e["type"] == "progress" and "part" in e["detail"]]


# ------------------------------------------------------------------------------------------------ the benches


def voice_note_over_slow_link(browser, app, url: str, log: WireLog, size: int, version: int) -> None:  # type: ignore[no-untyped-def]
    phone = Phone(browser, app, url, size, version)
    note = phone.note
    phone.set_link(SLOW["down"], SLOW["up"], SLOW["latency"])
    started = phone.start()
    phone.page.wait_for_function("() => window.__bench.emptyAt !== null", timeout=900_000, polling=100)
    bench = phone.bench()
    elapsed = (bench["emptyAt"] - bench["startedAt"]) / 1000
    phone.page.wait_for_timeout(300)
    floor, up, down = floor_of(phone, log)
    puts = log.chunk_puts(note["aid"])
    twice = sorted({p["index"] for p in puts if sum(q["index"] == p["index"] for q in puts) > 1})
    minutes = size / 3000 / 60
    print(
        f"v{version}: voice note of {minutes:.1f} min ({size:,} bytes; sealed {note['bytes']:,} in {note['chunks']} "
        "chunks) over 250 kbit/s down, 50 kbit/s up, 400 ms latency:"
    )
    print(
        f"  {len(phone.requests)} request(s), {up / 1024:.1f} KB up, {down / 1024:.1f} KB down; took {elapsed:.2f} s, "
        f"floor {floor:.2f} s; ratio {elapsed / floor:.3f}   target < 1.15"
    )
    listed = ", ".join(f"{short(r['what'])} {r['status']}" for r in phone.requests)
    print(f"  requests: {listed}")
    print(
        f"  chunk PUTs the server took: {len(puts)} (sent twice: {twice or 'none'}); part progress events "
        f"{part_events(bench)}; shown: {shown_parts(bench)}"
    )
    print(f"  wall clock from `online` (Python side): {time.perf_counter() - started:.2f} s")
    phone.close()


def short(what: str) -> str:
    method, path = what.split(" ", 1)
    if path.startswith("/attachments/"):
        rest = path[len("/attachments/") :].split("/")
        return f"{method} att{'/' + rest[2] if len(rest) > 2 else ''}"
    return f"{method} {path}"


def cut_at_sixty_percent(browser, app, url: str, log: WireLog, size: int, cut_s: float, version: int) -> None:  # type: ignore[no-untyped-def]
    link = Link(port_of(url))
    phone = Phone(browser, app, url, size, version, link)
    note = phone.note
    at = int(note["bytes"] * 0.6)
    crossed = threading.Event()
    log.watch, log.watched = (note["aid"], at, crossed, link), 0
    phone.set_link(SLOW["down"], SLOW["up"], SLOW["latency"])
    phone.start()
    while not crossed.is_set():
        phone.page.wait_for_timeout(20)
    phone.go_offline()
    cut_at = log.watched
    log.watch = None
    phone.page.wait_for_timeout(cut_s * 1000)
    online_from = phone.come_back()
    phone.page.wait_for_function("() => window.__bench.emptyAt !== null", timeout=900_000, polling=100)
    bench = phone.bench()
    elapsed = (bench["emptyAt"] - bench["startedAt"]) / 1000
    phone.page.wait_for_timeout(300)
    puts = log.chunk_puts(note["aid"])
    seen: set[int] = set()
    again = 0
    for put in sorted(puts, key=lambda p: p["start"]):
        if put["index"] in seen:
            again += put["read"]
        seen.add(put["index"])
    read = sum(p["read"] for p in puts)
    attempts = ", ".join(f"#{p['index']}:{p['read']:,}B→{p['status']}" for p in sorted(puts, key=lambda p: p["start"]))
    page_puts = [short(b) for b in phone.begun if b.startswith("PUT")]
    failed = [f"{short(w)} ({why})" for w, why in phone.failed]
    print(
        f"v{version}: link cut at 60 % of the note's chunk bytes ({cut_at:,} of {note['bytes']:,} read by the server), "
        f"offline {cut_s:g} s, then back (`online` {'from the browser' if online_from == 'browser' else 'sent'}):"
    )
    print(
        f"  chunk bodies sent again: {again:,} bytes = {again / SEALED_CHUNK[version]:.2f} chunk   target <= 1"
        f"   (the server read {read:,} chunk bytes for {note['bytes']:,}: {read - note['bytes']:,} beyond the note)"
    )
    print(f"  the server's chunk PUTs: {attempts}")
    print(f"  the page began: {', '.join(page_puts)}; failed: {', '.join(failed) or 'none'}")
    kinds = [e["detail"].get("kind") for e in bench["events"] if e["type"] == "failed"]
    print(
        f"  took {elapsed:.2f} s from `online` to an empty outbox, {cut_s:g} s of it offline; the next chunk PUT "
        f"reached the server {resume_delays(phone, puts)} s after the link was back; failures {kinds}; "
        f"part progress events {part_events(bench)}; shown: {shown_parts(bench)}"
    )
    phone.close()


SEAL_ROUNDS = """async ([size, rounds]) => {
  const { sealForServer, prepareDigests } = await import('/static/js/attachments.js');
  const c = await import('/static/js/crypto.js');
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  const aid = crypto.randomUUID();
  const key = await crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), 'AES-GCM', false,
                                            ['encrypt']);
  const bare = (v) => async () => {  // one chunk after another, each ciphertext kept as the seal must
    const step = c.WIRES[v].chunkSize;
    const out = [];
    for (let i = 0; i * step < size; i++) {
      out.push(new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: c.chunkIv(i) }, key,
                                                          bytes.subarray(i * step, (i + 1) * step))));
    }
    return out;
  };
  const media = () => [{ id: aid, kind: 'audio', mime: 'audio/webm', bytes, durationMs: 1 }];
  // At save the form has made the digest already (prepareDigests when it listed the recording).
  const listed = crypto.randomUUID();
  prepareDigests(listed, media());
  const kinds = { sha256: () => c.sha256(bytes) };
  for (const v of [1, 2]) {
    kinds[`save${v}`] = () => sealForServer(listed, media(), v);
    kinds[`cold${v}`] = () => sealForServer(crypto.randomUUID(), media(), v);  // a draft never listed
    kinds[`bare${v}`] = bare(v);
    kinds[`chunks${v}`] = () => c.sealChunks(crypto.getRandomValues(new Uint8Array(32)), aid, bytes, v);
  }
  const times = Object.fromEntries(Object.keys(kinds).map((name) => [name, []]));
  for (const run of Object.values(kinds)) await run();  // warm-up
  const names = Object.keys(kinds);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < names.length; k++) {  // each round starts with another: none always runs first
      const name = names[(r + k) % names.length];
      const run = kinds[name];
      // Each from a collected heap: else the one that runs next pays for the garbage of the one before.
      globalThis.gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
      const start = performance.now();
      await run();
      times[name].push(performance.now() - start);
    }
  }
  return times;
}"""


def sealing_throughput(browser, url: str, size: int, rounds: int) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    page.goto(url + "/")
    times = page.evaluate(SEAL_ROUNDS, [size, rounds])
    median = {name: statistics.median(t) / 1000 for name, t in times.items()}
    rate = {name: size / 1e6 / s for name, s in median.items()}
    print(f"sealing {size / 2**20:g} MiB in Chromium, median of {rounds} rounds (MB = 10^6 bytes):")
    for v in VERSIONS:
        save, bare = rate[f"save{v}"], rate[f"bare{v}"]
        print(
            f"  v{v} at save (digest made when listed) sealForServer {save:.0f} MB/s "
            f"({median[f'save{v}'] * 1000:.0f} ms), "
            f"bare AES-GCM loop over {SEALED_CHUNK[v] - 16:,}-byte pieces {bare:.0f} MB/s "
            f"({median[f'bare{v}'] * 1000:.0f} ms); ratio {save / bare:.2f}   target >= 0.8"
        )
        print(
            f"     cold (the SHA-256 made in the seal) {rate[f'cold{v}']:.0f} MB/s, "
            f"ratio {rate[f'cold{v}'] / bare:.2f}; "
            f"sealChunks alone {rate[f'chunks{v}']:.0f} MB/s, ratio {rate[f'chunks{v}'] / bare:.2f}"
        )
    print(f"  SHA-256 of the file alone {median['sha256'] * 1000:.0f} ms ({rate['sha256']:.0f} MB/s)")
    context.close()


def renderer_pids() -> list[int]:
    """This run's Chromium renderers: descendants of the browser process started with MARKER."""
    parents: dict[int, int] = {}
    browser = None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        if MARKER.encode() in cmdline and not any(a.startswith(b"--type=") for a in cmdline):
            browser = int(entry)
    found = []
    for pid in parents:
        up = pid
        while up in parents and up != browser and up > 1:
            up = parents[up]
        if browser and up == browser and pid != browser:
            try:
                if b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
            except OSError:
                pass
    return found


def rss_anon(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


MEMORY_SETUP = """async ([size]) => {  // v2, as the phone seals now
  const { sealForServer } = await import('/static/js/attachments.js');
  window.__recording = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(window.__recording.subarray(i, i + 65536));
  window.__seal = () => {
    window.__sealed = null;
    window.__sealMs = null;
    setTimeout(async () => {
      const start = performance.now();
      const media = [{ id: crypto.randomUUID(), kind: 'audio', mime: 'audio/webm', bytes: window.__recording,
                       durationMs: 600000 }];
      const sealed = await sealForServer(crypto.randomUUID(), media, 2);
      window.__sealMs = performance.now() - start;
      window.__sealed = sealed;  // held a moment, as saveReport holds it until stored, then dropped
      setTimeout(() => { window.__sealed = null; }, 300);
    }, 100);
  };
}"""


def sealing_memory(browser, url: str, size: int, rounds: int) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    page.goto(url + "/")
    cdp = context.new_cdp_session(page)
    cdp.send("Runtime.enable")
    page.evaluate(MEMORY_SETUP, [size])
    pids = renderer_pids()
    heap_keys = None
    peaks, rss_peaks, seal_ms, samples_during = [], [], [], []
    for _ in range(rounds):
        cdp.send("HeapProfiler.collectGarbage")
        page.wait_for_timeout(200)

        def heap() -> int:
            nonlocal heap_keys
            usage = cdp.send("Runtime.getHeapUsage")
            heap_keys = heap_keys or sorted(usage)
            return int(usage["usedSize"] + usage.get("backingStorageSize", 0))

        base = statistics.median(heap() for _ in range(5))
        rss_base = rss_anon(pids)
        rss_top = [rss_base]
        stop = threading.Event()

        def sample_rss(top: list[int] = rss_top, done: threading.Event = stop) -> None:
            while not done.is_set():
                top[0] = max(top[0], rss_anon(pids))
                time.sleep(0.001)

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        page.evaluate("() => window.__seal()")
        top, n = base, 0
        end = time.perf_counter() + 0.9
        while time.perf_counter() < end:
            top = max(top, heap())
            n += 1
        stop.set()
        sampler.join()
        peaks.append(top - base)
        rss_peaks.append(rss_top[0] - rss_base)
        seal_ms.append(page.evaluate("() => window.__sealMs"))
        samples_during.append(n)
    mb = 1e6
    print(f"memory while sealing a 10-minute recording ({size:,} bytes), {rounds} rounds, peak over baseline:")
    print(
        f"  V8 heap + ArrayBuffers (Runtime.getHeapUsage usedSize + backingStorageSize): {max(peaks) / mb:.2f} MB "
        f"= {max(peaks) / size:.2f}x the recording (rounds {', '.join(f'{p / mb:.2f}' for p in peaks)})"
    )
    print(
        f"  renderer anonymous resident memory (/proc RssAnon, {len(pids)} renderer(s)): {max(rss_peaks) / mb:.2f} MB "
        f"= {max(rss_peaks) / size:.2f}x, median round {statistics.median(rss_peaks) / mb:.2f} MB = "
        f"{statistics.median(rss_peaks) / size:.2f}x (rounds {', '.join(f'{p / mb:.2f}' for p in rss_peaks)})"
    )
    print(
        f"  the seal took {statistics.median(seal_ms):.0f} ms (median); ~{statistics.median(samples_during):.0f} heap "
        f"samples a round over 0.9 s; getHeapUsage gave {', '.join(heap_keys or [])}"
    )
    context.close()


def dropping_link(browser, app, url: str, log: WireLog, size: int, minutes: float, rates: list[int]) -> None:  # type: ignore[no-untyped-def]
    phones = {(v, rate): Phone(browser, app, url, size, v, Link(port_of(url))) for v in VERSIONS for rate in rates}
    for (_, rate), phone in phones.items():
        phone.set_link(TWO_G["down"], rate, TWO_G["latency"])
    for phone in phones.values():
        phone.start()
    begin = time.perf_counter()
    end = begin + minutes * 60
    driver = next(iter(phones.values())).page
    drops = 0
    online_from: set[str] = set()
    next_drop = begin + DROP_EVERY_S
    while time.perf_counter() < end:
        if time.perf_counter() >= next_drop:
            for phone in phones.values():
                phone.go_offline()
            driver.wait_for_timeout(DROP_FOR_S * 1000)
            for phone in phones.values():
                online_from.add(phone.come_back())
            drops += 1
            next_drop += DROP_EVERY_S + DROP_FOR_S
        driver.wait_for_timeout(100)
    print(
        f"a 2G link that drops every {DROP_EVERY_S} s (offline {DROP_FOR_S} s, {drops} drops in {minutes:g} min; "
        f"{TWO_G['down'] // 1000} kbit/s down, {TWO_G['latency'] * 1000:.0f} ms latency; `online` "
        f"{' and '.join(sorted('from the browser' if o == 'browser' else 'sent' for o in online_from))}), "
        f"one note of {size:,} bytes each:"
    )
    completed_any = {v: False for v in VERSIONS}
    for (v, rate), phone in phones.items():
        note = phone.note
        puts = log.chunk_puts(note["aid"])
        done = sorted({p["index"] for p in puts if p["status"] == 204})
        received, chunks = received_on_server(app, note["aid"])
        bench = phone.bench()
        arrived = bench["emptyAt"] is not None
        longest = max(((p.get("last") or p["start"]) - p["start"] for p in puts), default=0)
        read = sum(p["read"] for p in puts)
        lost = sum(p["read"] for p in puts if p["status"] != 204)
        needs = SEALED_CHUNK[v] / (rate / 8) + TWO_G["latency"]
        completed_any[v] = completed_any[v] or bool(done)
        when = f"arrived after {(bench['emptyAt'] - bench['startedAt']) / 1000:.0f} s" if arrived else "never arrived"
        print(
            f"  v{v}, uplink {rate // 1000} kbit/s: {len(done)} of {chunks or note['chunks']} chunks complete in "
            f"{minutes:g} min ({received} on the server); {len(puts)} chunk PUTs reached the server, the longest "
            f"took {longest:.0f} s of body; {read:,} chunk bytes read, {lost:,} of them lost in cut PUTs; a chunk "
            f"needs {needs:.0f} s of unbroken link; the note {when}"
        )
        kinds: dict[str, int] = {}
        for e in bench["events"]:
            if e["type"] == "failed":
                kinds[e["detail"].get("kind")] = kinds.get(e["detail"].get("kind"), 0) + 1
        print(
            f"    page: {len(phone.begun)} API requests begun, {bench['online']} `online` events, failures {kinds}, "
            f"from each return of the link to the next chunk PUT at the server: {resume_delays(phone, puts)} s; "
            f"part progress events {part_events(bench)}; shown: {shown_parts(bench)}"
        )
    window = DROP_EVERY_S - 2 * TWO_G["latency"]  # a status question and the PUT's own latency
    carries = ", ".join(f"{int(window * rate / 8):,} bytes at {rate // 1000}" for rate in rates)
    for v in VERSIONS:
        if not completed_any[v]:
            print(
                f"  v{v}: NO CHUNK EVER COMPLETED: a {SEALED_CHUNK[v]:,}-byte chunk needs more unbroken link than "
                f"the {DROP_EVERY_S} s between drops at every one of these rates, and each drop throws the partial "
                "chunk away (the server keeps only whole chunks), so the note never arrives however long it tries."
            )
    print(f"  a {DROP_EVERY_S} s window carries at most about {carries} kbit/s")
    for phone in phones.values():
        phone.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and short times: a smoke run")
    parser.add_argument("--minutes", type=float, default=None, help="how long the dropping link runs (6)")
    parser.add_argument("--only", default="12345", help="which of the five to run, e.g. 25 (all by default)")
    args = parser.parse_args()
    only = set(args.only)
    quick = args.quick
    note = 300_000 if quick else 900_000
    seal_size = 2 * 2**20 if quick else 16 * 2**20
    minutes = args.minutes if args.minutes is not None else (1.2 if quick else 6)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        app, server, url = start_server(Path(tmp))
        log = WireLog(app.wsgi_app)
        app.wsgi_app = log
        with sync_playwright() as playwright:
            args = [*CHROMIUM_ARGS, MARKER, "--js-flags=--expose-gc"]  # 3. collects garbage between runs
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=args)
            print(f"Chromium {browser.version}{' (--quick)' if quick else ''}")
            for version in VERSIONS if "1" in only else ():
                voice_note_over_slow_link(browser, app, url, log, note, version)
            for version in VERSIONS if "2" in only else ():
                cut_at_sixty_percent(browser, app, url, log, note, 5, version)
            if "3" in only:
                sealing_throughput(browser, url, seal_size, rounds=3 if quick else 9)
            if "4" in only:
                sealing_memory(browser, url, 1_800_000, rounds=3 if quick else 5)
            if "5" in only:
                dropping_link(browser, app, url, log, 600_000 if quick else note, minutes, [20_000, 30_000, 40_000])
            browser.close()
        server.shutdown()
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
