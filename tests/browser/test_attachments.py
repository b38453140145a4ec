"""Voice notes and photos on a real Chromium with a fake microphone: recorded offline, kept sealed slice by
slice, sealed for the server at save, and sent chunk by chunk, resuming after a cut (PROTOCOL.md §4–5)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route

from fieldapp import crypto
from fieldapp.extensions import db
from fieldapp.models import Attachment, AttachmentChunk, Report

from ..conftest import KEY_PASSPHRASE, LOGIN_PASSPHRASE
from .conftest import CHROMIUM, CHROMIUM_ARGS, PHONE_LOCALE, enrol, open_app, wait_for_queued

SENTENCE = "Me ofrecieron trabajo en una mina y no me dejan salir. Nos quitaron los documentos."


@pytest.fixture(scope="module")
def spoken_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test sentence spoken by Debian's espeak-ng, played by the fake microphone in a loop."""
    path = tmp_path_factory.mktemp("voice") / "sentence.wav"
    subprocess.run(["espeak-ng", "-v", "es", "-s", "150", "-w", str(path), SENTENCE], check=True)
    return path


@pytest.fixture(scope="module")
def microphone_browser(playwright: Playwright, spoken_wav: Path) -> Iterator[Browser]:
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={spoken_wav}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
    yield launched
    launched.close()


@pytest.fixture
def phone(microphone_browser: Browser) -> Iterator[BrowserContext]:
    ctx = microphone_browser.new_context(viewport={"width": 360, "height": 740}, locale=PHONE_LOCALE)
    ctx.grant_permissions(["microphone", "camera"])
    yield ctx
    ctx.close()


def stored_attachments(live_server, rid: str) -> list[tuple[Attachment, list[bytes]]]:
    with live_server.app.app_context():
        report = db.session.query(Report).filter_by(rid=rid).one()
        found = []
        for attachment in db.session.query(Attachment).filter_by(report_id=report.id).order_by(Attachment.id):
            chunks = (
                db.session.query(AttachmentChunk)
                .filter_by(attachment_id=attachment.id)
                .order_by(AttachmentChunk.index)
                .all()
            )
            found.append((attachment, [bytes(c.data) for c in chunks]))
        db.session.expunge_all()
        return found


def opened_document(live_server, rid: str) -> dict:
    with live_server.app.app_context():
        report = db.session.query(Report).filter_by(rid=rid).one()
        return crypto.open_envelope(json.loads(report.envelope), {live_server.kid: live_server.private})


def decrypted_attachment(live_server, rid: str, entry: dict) -> bytes:
    attachment, chunks = {a.aid: (a, c) for a, c in stored_attachments(live_server, rid)}[entry["aid"]]
    assert attachment.version == 2  # the phone seals in the latest version the server names
    return crypto.open_chunks(crypto.b64u_decode(entry["key"]), entry["aid"], chunks, attachment.version)


def fill_required(page: Page) -> None:
    page.select_option("#f-department", "17")
    page.check("input[name=place_kind][value=mining_camp]")
    page.check("input[name=exploitation_type][value=ForcedLabour]")
    page.check("input[name=sector][value=B_MiningAndQuarrying]")
    page.check("input[name=forced_labour_indicators][value=debt_bondage]")


def outbox_rids(page: Page) -> list[str]:
    return page.evaluate("async () => (await (await import('/static/js/db.js')).outboxEntries()).map((e) => e.rid)")


def recording_offline(phone, live_server) -> Page:  # type: ignore[no-untyped-def]
    """An enrolled phone, out of signal, on a new report with its answers filled and a recording begun."""
    page = phone.new_page()
    enrol(page, live_server)
    phone.set_offline(True)
    page.click("text=Nuevo informe")
    fill_required(page)
    page.click("[data-testid=record]")
    page.wait_for_selector("[data-testid=recording-time]:visible")
    return page


def test_a_voice_note_recorded_offline_survives_a_reload_and_arrives_whole(phone, live_server) -> None:
    page = recording_offline(phone, live_server)
    page.wait_for_timeout(30_000)
    page.click("[data-testid=stop-recording]")
    page.wait_for_selector("ul.media li[data-kind=audio] audio")
    # Listen back: the recording plays in the form, from memory only.
    duration = page.evaluate(
        """async () => { const a = document.querySelector('ul.media audio');
        await new Promise((r) => { if (a.readyState >= 1) r(); else a.onloadedmetadata = r; });
        return a.duration; }"""
    )
    assert duration > 25 or duration == float("inf")  # a recorder's WebM may not state its length
    page.click("text=Guardar y cifrar")
    page.wait_for_selector("text=Informe guardado y cifrado")
    [rid] = outbox_rids(page)
    page.reload()
    open_app(page)
    assert outbox_rids(page) == [rid]
    phone.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    wait_for_queued(page, 0, timeout=60_000)
    [entry] = opened_document(live_server, rid)["attachments"]
    assert entry["kind"] == "audio" and entry["mime"] in ("audio/webm", "audio/ogg")
    audio = decrypted_attachment(live_server, rid, entry)
    assert base64.urlsafe_b64encode(hashlib.sha256(audio).digest()).rstrip(b"=").decode() == entry["sha256"]
    assert len(audio) == entry["size"] > 30 * 1000  # thirty seconds at about 24 kbit/s: some 90 KB
    assert audio[:4] == b"\x1a\x45\xdf\xa3"  # an EBML (WebM) header
    assert entry["duration_ms"] >= 29_000
    # The supervisor plays it in the dashboard, decrypted for that answer only.
    supervisor = phone.browser.new_context(locale=PHONE_LOCALE)
    desk = supervisor.new_page()
    desk.goto(live_server.url + "/dashboard/login")
    desk.fill("#username", "ana")
    desk.fill("#passphrase", LOGIN_PASSPHRASE)
    desk.click("form:has(#passphrase) button[type=submit]")
    desk.goto(live_server.url + f"/dashboard/reports/{rid}")
    desk.fill("#key_passphrase", KEY_PASSPHRASE)
    desk.click("form:has(#key_passphrase) button[type=submit]")
    desk.wait_for_selector("text=Lectura desbloqueada")
    desk.goto(live_server.url + f"/dashboard/reports/{rid}")
    played = desk.evaluate(
        """async () => { const a = document.querySelector('audio');
        a.muted = true;
        await a.play();
        await new Promise((r) => setTimeout(r, 1500));
        return { time: a.currentTime, error: a.error && a.error.code, state: a.readyState }; }"""
    )
    assert played["error"] is None and played["state"] >= 2 and played["time"] > 0.5, played
    supervisor.close()


def test_a_photo_arrives_without_its_gps_and_camera_metadata(phone, live_server, tmp_path) -> None:
    from PIL import Image

    picture = Image.new("RGB", (2400, 1800), (180, 120, 60))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0xA431] = "SERIAL-123456"  # BodySerialNumber
    exif[0x8825] = {1: "S", 2: (12.0, 35.0, 0.0), 3: "W", 4: (69.0, 11.0, 0.0)}  # GPS: Puerto Maldonado
    photo = tmp_path / "cartel.jpg"
    picture.save(photo, exif=exif.tobytes())
    assert b"SERIAL-123456" in photo.read_bytes()
    page = phone.new_page()
    enrol(page, live_server)
    page.click("text=Nuevo informe")
    fill_required(page)
    page.set_input_files("[data-testid=photo-gallery]", str(photo))
    page.wait_for_selector("ul.media li[data-kind=photo] img.thumb")
    phone.set_offline(True)  # kept queued until its rid is read
    page.click("text=Guardar y cifrar")
    page.wait_for_selector("text=Informe guardado y cifrado")
    [rid] = outbox_rids(page)
    phone.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    wait_for_queued(page, 0, timeout=60_000)
    [entry] = opened_document(live_server, rid)["attachments"]
    assert entry["kind"] == "photo" and entry["mime"] == "image/jpeg"
    jpeg = decrypted_attachment(live_server, rid, entry)
    received = Image.open(io.BytesIO(jpeg))
    assert max(received.size) == 1600 and received.size == (1600, 1200)
    assert not received.getexif() and b"Exif" not in jpeg[:4096]
    assert b"SERIAL" not in jpeg and b"CameraMaker" not in jpeg


FOUR_CHUNK_WAV = 250_000  # four chunks of 65,536 bytes (v2)


def wav_file(path: Path, size: int) -> Path:
    import struct

    data = bytes(i * 7 % 251 for i in range(size - 44))
    header = b"RIFF" + struct.pack("<I", size - 8) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    path.write_bytes(header + b"data" + struct.pack("<I", len(data)) + data)
    return path


def test_a_cut_after_two_of_four_chunks_resends_only_the_last_two(phone, live_server, tmp_path) -> None:
    """Where the browser cannot record, a recording made by the phone's own app is attached as a file."""
    phone.add_init_script("delete window.MediaRecorder")
    page = phone.new_page()
    enrol(page, live_server)
    phone.set_offline(True)
    page.click("text=Nuevo informe")
    fill_required(page)
    page.set_input_files("[data-testid=audio-file]", str(wav_file(tmp_path / "nota.wav", FOUR_CHUNK_WAV)))
    page.wait_for_selector("ul.media li[data-kind=audio]")
    page.click("text=Guardar y cifrar")
    page.wait_for_selector("text=Informe guardado y cifrado")
    [rid] = outbox_rids(page)

    sent: list[int] = []
    cut = {"on": True, "refused": 0}

    def chunks(route: Route) -> None:
        index = int(route.request.url.rsplit("/", 1)[1])
        if cut["on"] and index >= 2:
            cut["refused"] += 1
            route.abort("connectionreset")
            return
        sent.append(index)
        route.continue_()

    phone.route("**/api/v1/attachments/*/chunks/*", chunks)
    phone.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    for _ in range(300):
        if len(sent) >= 2 and cut["refused"] >= 2:  # the cut chunk was tried again, and cut again
            break
        page.wait_for_timeout(100)
    assert sent == [0, 1] and outbox_rids(page) == [rid]  # not sent whole: it waits for its last chunks
    [(attachment, stored)] = stored_attachments(live_server, rid)
    assert attachment.chunks == 4 and len(stored) == 2
    cut["on"] = False
    page.evaluate("async () => (await import('/static/js/sync.js')).outbox.sendNow()")
    wait_for_queued(page, 0, timeout=60_000)
    assert sent == [0, 1, 2, 3]  # only the two missing travelled again
    [entry] = opened_document(live_server, rid)["attachments"]
    audio = decrypted_attachment(live_server, rid, entry)
    assert audio == (tmp_path / "nota.wav").read_bytes()
    assert page.evaluate(STORAGE_BYTES)["parts"] == 0  # delivered: its chunks left the phone with it


def test_a_tab_closed_mid_recording_keeps_what_was_said_in_the_draft(phone, live_server) -> None:
    page = phone.new_page()
    enrol(page, live_server)
    page.click("text=Nuevo informe")
    page.click("[data-testid=record]")
    page.wait_for_timeout(5_000)
    page.close()  # no stop, no save: the tab is gone
    page = phone.new_page()
    page.goto(live_server.url)
    open_app(page)
    page.click("text=Seguir el borrador")
    page.wait_for_selector("ul.media li[data-kind=audio] audio")
    size = int(page.get_attribute("ul.media li[data-kind=audio]", "data-bytes"))
    assert size > 4 * 2000  # some four seconds of speech at about 24 kbit/s


def test_no_plaintext_audio_or_image_bytes_in_any_browser_storage(phone, live_server, tmp_path) -> None:
    from PIL import Image

    photo = tmp_path / "p.jpg"
    Image.new("RGB", (800, 600), (10, 200, 30)).save(photo)
    page = recording_offline(phone, live_server)
    page.wait_for_timeout(4_000)
    page.click("[data-testid=stop-recording]")
    page.set_input_files("[data-testid=photo-gallery]", str(photo))
    page.wait_for_selector("ul.media li[data-kind=photo]")
    page.wait_for_selector("ul.media li[data-kind=audio]")
    draft_state = page.evaluate(STORAGE_BYTES)
    page.click("text=Guardar y cifrar")
    page.wait_for_selector("text=Informe guardado y cifrado")
    saved_state = page.evaluate(STORAGE_BYTES)
    for state in (draft_state, saved_state):
        assert state["records"] > 0
        assert not state["webm"] and not state["jpeg"], state  # no EBML or JPEG header anywhere at rest
    assert draft_state["pieces"] > 0 and saved_state["pieces"] == 0 and saved_state["parts"] > 0


STORAGE_BYTES = """
async () => {
  const dbs = await indexedDB.databases();
  const found = { records: 0, webm: false, jpeg: false, pieces: 0, parts: 0 };
  const has = (bytes, sig) => { for (let i = 0; i + sig.length <= bytes.length; i++) {
      let ok = true; for (let j = 0; j < sig.length; j++) if (bytes[i + j] !== sig[j]) { ok = false; break; }
      if (ok) return true; } return false; };
  const visit = (value) => {
    if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
      const bytes = new Uint8Array(value);
      if (has(bytes, [0x1a, 0x45, 0xdf, 0xa3])) found.webm = true;
      if (has(bytes, [0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46])) found.jpeg = true; // JFIF
    } else if (value && typeof value === "object") for (const v of Object.values(value)) visit(v);
  };
  for (const info of dbs) {
    const db = await new Promise((r) => { const q = indexedDB.open(info.name); q.onsuccess = () => r(q.result); });
    for (const name of db.objectStoreNames) {
      const all = await new Promise((r) => {
        const q = db.transaction(name).objectStore(name).getAll();
        q.onsuccess = () => r(q.result);
      });
      found.records += all.length;
      if (name === "pieces") found.pieces += all.length;
      if (name === "parts") found.parts += all.length;
      all.forEach(visit);
    }
    db.close();
  }
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) visit(new Uint8Array(await (await cache.match(request)).arrayBuffer()));
  }
  return found;
}
"""


OUTBOX_ORDER = """
async () => {
  const { createOutbox } = await import('/static/js/outbox.js');
  const api = await import('/static/js/api.js');
  const calls = [];
  const entries = new Map();
  const put = (rid, att) => entries.set(rid, { rid, state: 'queued', envelope: { rid, att }, sent: false });
  put('a', [{ aid: 'x', chunks: 2 }]);
  put('b', undefined);
  const store = {
    outboxEntries: async () => [...entries.values()].map((e) => ({ ...e })),
    removeFromOutbox: async (rids) => {
      for (const rid of rids) { entries.delete(rid); calls.push(`removed ${rid}`); }
    },
    markSent: async (rids, sent = true) => { for (const rid of rids) entries.get(rid).sent = sent; },
    getPart: async (aid, i) => new Uint8Array([i]),
    markRejected: async () => {}, requeueRejected: async () => 0,
    getSetting: async () => 'token', noteSync: async () => {},
  };
  const fake = {
    ApiError: api.ApiError, NetworkError: api.NetworkError,
    postReports: async (token, envelopes) => {
      calls.push(`post ${envelopes.map((e) => e.rid).join(',')}`);
      return { results: envelopes.map((e) => ({ rid: e.rid, status: 'stored' })) };
    },
    attachmentStatus: async (token, aid) => { calls.push(`status ${aid}`); return { chunks: 2, received: [] }; },
    putChunk: async (token, aid, i) => {
      calls.push(`chunk ${aid} ${i}`);
      if (i === 0) put('c', undefined); // saved while the first chunk was on its way
    },
  };
  const timers = { setTimeout: () => 0, clearTimeout() {}, setInterval() {}, clearInterval() {} };
  const outbox = createOutbox({ store, api: fake, timers });
  await outbox.drain();
  return calls;
}
"""


def test_a_report_without_attachments_never_waits_behind_a_large_one(page, live_server) -> None:
    page.goto(live_server.url)
    assert page.evaluate(OUTBOX_ORDER) == [
        "post a,b",
        "removed b",  # delivered at once, though it was saved after the one with a recording
        "status x",
        "chunk x 0",
        "post c",  # saved meanwhile: it goes before the recording's next chunk
        "removed c",
        "chunk x 1",
        "removed a",  # only once its last chunk is in
    ]


CHUNK_STALLS = """
async () => {
  const { createOutbox } = await import('/static/js/outbox.js');
  const api = await import('/static/js/api.js');
  const calls = [];
  const envelope = { rid: 'a', att: [{ aid: 'x', chunks: 2 }] };
  const entries = new Map([['a', { rid: 'a', state: 'queued', envelope, sent: true }]]);
  const store = {
    outboxEntries: async () => [...entries.values()].map((e) => ({ ...e })),
    removeFromOutbox: async (rids) => {
      for (const rid of rids) { entries.delete(rid); calls.push(`removed ${rid}`); }
    },
    markSent: async () => {}, getPart: async (aid, i) => new Uint8Array([i]),
    markRejected: async () => {}, requeueRejected: async () => 0,
    getSetting: async () => 'token', noteSync: async () => {},
  };
  let silent = true; // the first try of chunk 1 is never answered, as on a link that died quietly
  const fake = {
    ApiError: api.ApiError, NetworkError: api.NetworkError,
    postReports: async () => ({ results: [] }),
    attachmentStatus: async () => {
      calls.push('status');
      return { chunks: 2, received: calls.includes('chunk 0') ? [0] : [] };
    },
    putChunk: (token, aid, i, bytes, { signal }) => {
      calls.push(`chunk ${i}`);
      if (i === 0 || !silent) return Promise.resolve({});
      silent = false;
      return new Promise((resolve, reject) => signal.addEventListener('abort', () => {
        calls.push('given up');
        reject(new api.NetworkError('abandoned'));
      }));
    },
  };
  const outbox = createOutbox({ store, api: fake, stallAfterMs: 50 });
  const stalled = new Promise((resolve) => outbox.events.addEventListener('stalled', resolve, { once: true }));
  const first = outbox.drain();
  await stalled;
  calls.push('stalled');
  await outbox.sendNow();
  await first;
  while (entries.size) await new Promise((r) => setTimeout(r, 10));
  return calls;
}
"""


def test_a_chunk_whose_answer_is_overdue_can_be_given_up_on_with_send_now(page, live_server) -> None:
    page.goto(live_server.url)
    assert page.evaluate(CHUNK_STALLS) == [
        "status",
        "chunk 0",
        "chunk 1",
        "stalled",  # "Enviar ahora" is offered while a chunk's answer is overdue, as for a batch
        "given up",
        "status",  # the drain that follows asks what arrived: chunk 0 does not travel again
        "chunk 1",
        "removed a",
    ]


def test_pause_holds_the_timer_and_the_recording_goes_on_after_it(phone, live_server) -> None:
    page = phone.new_page()
    enrol(page, live_server)
    page.click("text=Nuevo informe")
    page.click("[data-testid=record]")
    page.wait_for_selector("[data-testid=recording-time]:visible")
    page.wait_for_timeout(3_000)
    page.click("[data-testid=pause]")
    held = page.inner_text("[data-testid=recording-time]")
    page.wait_for_timeout(3_000)
    assert page.inner_text("[data-testid=recording-time]") == held  # paused: the timer stands still
    assert page.inner_text("[data-testid=pause]") == "Seguir grabando"
    page.click("[data-testid=pause]")
    page.wait_for_timeout(3_000)
    page.click("[data-testid=stop-recording]")
    page.wait_for_selector("ul.media li[data-kind=audio] audio")
    [label] = page.locator("ul.media li[data-kind=audio] span").all_inner_texts()
    assert label in ("Grabación 1 (0:05)", "Grabación 1 (0:06)", "Grabación 1 (0:07)"), label  # the pause not counted


LITTLE_ROOM = """
(() => {
  const room = Number(sessionStorage.getItem('room') || '0');
  if (!room) return;
  const used = 10_000_000;
  navigator.storage.estimate = async () => ({ quota: used + room, usage: used });
})();
"""


def test_the_worker_is_told_how_many_minutes_fit_and_nothing_is_recorded_without_room(phone, live_server) -> None:
    # One minute of room (a recording is kept twice until sent): the limit becomes that minute, then stops it.
    phone.add_init_script(LITTLE_ROOM)
    page = phone.new_page()
    enrol(page, live_server)
    page.evaluate("() => sessionStorage.setItem('room', String(Math.ceil(3000 * 60 * 2.5 * 1.5)))")
    page.clock.install()
    page.reload()
    open_app(page)
    page.click("text=Nuevo informe")
    page.click("[data-testid=record]")
    page.wait_for_selector("[data-testid=recording-time]:visible")
    assert page.inner_text("[data-testid=recording-room]") == "Hay espacio para 1 minuto de grabación."
    assert page.inner_text("[data-testid=recording-time]").endswith("de 1:00")
    page.wait_for_timeout(3_000)  # some seconds said, in real time: the recorder's slices come from them
    page.clock.run_for(61_000)  # the app's clock: the limit is reached without waiting a minute
    page.wait_for_selector("text=Se llegó al límite de 1 minuto: la grabación se guardó.")
    page.wait_for_selector("ul.media li[data-kind=audio]")
    assert page.is_visible("[data-testid=record]") and not page.is_visible("[data-testid=stop-recording]")

    # No room at all: a clear message, no recording, nothing kept.
    page.evaluate("() => sessionStorage.setItem('room', '1000')")
    page.reload()
    open_app(page)
    page.click("text=Nuevo informe")
    page.click("[data-testid=record]")
    page.wait_for_selector("text=No hay espacio en el teléfono para grabar.")
    assert not page.is_visible("[data-testid=stop-recording]")
    assert page.locator("ul.media li").count() == 0
