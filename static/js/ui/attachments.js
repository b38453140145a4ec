// The form's recordings and photos: a large record button with its timer, level, pause and limit; photos
// from the camera or the gallery, redrawn so that nothing but their pixels survive; listen back, look, delete.
// Everything is kept with the draft as it is made (attachments.js); what is shown lives only while the form is open.

import { dropMedia, draftMedia, keepFile, keepHeader, keepSlice, forgetDraft, prepareDigests } from "../attachments.js";
import { t, tn } from "../i18n.js";
import { rules } from "../lock.js";
import { AUDIO_BITS_PER_SECOND, baseType, objectUrl, recordingType, redrawPhoto, revokeUrl, startRecording, storageLeft, thumbnailOf } from "../media.js";
import { askToConfirm } from "./confirm.js";
import { el } from "./el.js";

// A recording is kept twice until it is sent (the draft's slices, then the sealed chunks), with room to spare.
const BYTES_PER_MINUTE_KEPT = ((AUDIO_BITS_PER_SECOND / 8) * 60 * 2.5) | 0;

export function clock(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

const AUDIO_FILE_TYPES = ["audio/webm", "audio/ogg", "audio/mp4", "audio/mpeg", "audio/aac", "audio/wav", "audio/x-wav", "audio/3gpp", "audio/amr"];

// `draftId`: the rid the report will be saved as. `dataKey()`: the PIN's key now (null when locked).
// `changed({ now })`: the form's draft is written (at once when a recording starts, so that a tab killed
// mid-recording leaves a draft to resume).
export function attachmentsPanel({ draftId, dataKey, changed }) {
  const urls = new Set();
  let items = []; // [{ id, kind, mime, durationMs, bytes, thumb }]
  let recording = null; // { controller, mediaId, startedAt, timer, key }
  let busy = Promise.resolve();
  let closed = false;

  const message = el("p", { class: "error", role: "alert", hidden: true });
  const hint = el("p", { class: "hint", "data-testid": "recording-room", hidden: true });
  const list = el("ul", { class: "media", "data-testid": "media" });
  const timer = el("p", { class: "timer", role: "timer", "data-testid": "recording-time" });
  const level = el("meter", { class: "level", min: "0", max: "1", value: "0", "aria-label": t("Volumen") });
  const recordButton = el("button", { type: "button", class: "record", "data-testid": "record", text: t("Grabar audio") });
  const pauseButton = el("button", { type: "button", class: "secondary", "data-testid": "pause", text: t("Pausa") });
  const stopButton = el("button", { type: "button", class: "primary", "data-testid": "stop-recording", text: t("Terminar la grabación") });
  const live = el("div", { class: "recording", hidden: true }, timer, level, el("div", { class: "actions" }, pauseButton, stopButton));

  const show = (text) => {
    message.textContent = text;
    message.hidden = !text;
  };

  function photoInput(capture) {
    const input = el("input", { type: "file", accept: "image/*", capture: capture ? "environment" : null, class: "visually-hidden", "data-testid": capture ? "photo-camera" : "photo-gallery" });
    input.addEventListener("change", () => {
      const files = [...input.files];
      input.value = "";
      for (const file of files) addPhoto(file);
    });
    return input;
  }

  // Where the browser cannot record, a recording made by the phone's own app is taken as a file.
  function audioInput() {
    const input = el("input", { type: "file", accept: "audio/*", capture: true, class: "visually-hidden", "data-testid": "audio-file" });
    input.addEventListener("change", () => {
      const files = [...input.files];
      input.value = "";
      for (const file of files) addAudioFile(file);
    });
    return input;
  }

  const canRecord = recordingType() !== null;
  const element = el(
    "section",
    { class: "attachments", "aria-labelledby": `media-${draftId}` },
    el("h2", { id: `media-${draftId}`, text: t("Grabaciones y fotos") }),
    el("p", { class: "hint", text: t("Se guardan cifradas con el informe y se borran del teléfono cuando el servidor las tiene.") }),
    canRecord ? recordButton : el("label", { class: "button secondary" }, t("Adjuntar una grabación"), audioInput()),
    live,
    hint,
    el(
      "div",
      { class: "actions" },
      el("label", { class: "button secondary" }, t("Tomar una foto"), photoInput(true)),
      el("label", { class: "button secondary" }, t("Elegir una foto"), photoInput(false)),
    ),
    message,
    list,
  );

  function draw() {
    for (const url of urls) revokeUrl(url);
    urls.clear();
    let audioNumber = 0;
    let photoNumber = 0;
    list.replaceChildren(
      ...items.map((item) => {
        const url = objectUrl(item.kind === "photo" ? item.thumb || item.bytes : item.bytes, item.kind === "photo" ? "image/jpeg" : item.mime);
        urls.add(url);
        const label =
          item.kind === "photo"
            ? t("Foto %(n)s", { n: ++photoNumber })
            : item.durationMs
              ? t("Grabación %(n)s (%(time)s)", { n: ++audioNumber, time: clock(item.durationMs) })
              : t("Grabación %(n)s", { n: ++audioNumber });
        const remove = el("button", { type: "button", class: "secondary", onclick: () => removeItem(item), text: t("Borrar") });
        return el(
          "li",
          { "data-kind": item.kind, "data-bytes": item.bytes.length },
          el("span", { text: label }),
          item.kind === "photo" ? el("img", { src: url, alt: label, class: "thumb" }) : el("audio", { controls: true, preload: "metadata", src: url }),
          remove,
        );
      }),
    );
  }

  async function reload() {
    const key = dataKey();
    const found = await draftMedia(key, draftId);
    for (const item of found) {
      const earlier = items.find((i) => i.id === item.id);
      if (item.kind === "photo") item.thumb = earlier?.thumb || (await thumbnailOf(item.bytes).catch(() => null));
    }
    if (closed) return;
    items = found;
    prepareDigests(draftId, found);
    draw();
  }

  function queue(work) {
    busy = busy.then(work).catch((error) => show(storageProblem(error)));
    return busy;
  }

  function storageProblem(error) {
    if (error && error.name === "QuotaExceededError") return t("El teléfono no tiene espacio libre: libere espacio (fotos, videos, otras aplicaciones) y vuelva a intentarlo.");
    return t("No se pudo guardar en el teléfono. Vuelva a intentarlo.");
  }

  async function roomHint(limitMinutes) {
    const left = await storageLeft();
    if (left === null) return limitMinutes;
    const minutes = Math.floor(left / BYTES_PER_MINUTE_KEPT);
    hint.hidden = minutes >= limitMinutes;
    hint.textContent = tn("Hay espacio para %(count)s minuto de grabación.", "Hay espacio para unos %(count)s minutos de grabación.", minutes);
    return Math.min(limitMinutes, minutes);
  }

  async function startRecordingNow() {
    if (recording) return;
    show("");
    const limitMinutes = (await rules()).recording_minutes;
    const minutes = await roomHint(limitMinutes);
    if (minutes < 1) {
      show(t("No hay espacio en el teléfono para grabar. Libere espacio (fotos, videos, otras aplicaciones) y vuelva a intentarlo."));
      return;
    }
    const key = dataKey(); // the slices of this recording are kept under the key it began with
    const mediaId = crypto.randomUUID();
    const createdAt = Date.now();
    let n = 0;
    recordButton.disabled = true;
    let controller;
    try {
      controller = await startRecording({
        onSlice: (bytes) => keepSlice(key, draftId, mediaId, n++, bytes),
        onLevel: (value) => (level.value = value),
      });
    } catch {
      recordButton.disabled = false;
      show(t("No se pudo usar el micrófono. Permita el micrófono para esta aplicación en los ajustes del navegador."));
      return;
    }
    const header = { kind: "audio", mime: controller.mime || "audio/webm", createdAt };
    await keepHeader(key, draftId, mediaId, header);
    changed({ now: true });
    const limitMs = minutes * 60 * 1000;
    recording = { controller, mediaId, header, key, limitMs, ticker: null };
    recording.ticker = setInterval(() => {
      const elapsed = controller.elapsedMs();
      timer.textContent = t("%(time)s de %(limit)s", { time: clock(elapsed), limit: clock(limitMs) });
      if (elapsed >= limitMs) {
        stopRecording().then(() => show(tn("Se llegó al límite de %(count)s minuto: la grabación se guardó.", "Se llegó al límite de %(count)s minutos: la grabación se guardó.", minutes)));
      }
    }, 250);
    timer.textContent = t("%(time)s de %(limit)s", { time: clock(0), limit: clock(limitMs) });
    pauseButton.textContent = t("Pausa");
    live.hidden = false;
    recordButton.hidden = true;
  }

  // Ends the recording under way, every slice kept; resolves when it is all on storage.
  function stopRecording() {
    if (!recording) return busy;
    const { controller, mediaId, header, key, ticker } = recording;
    recording = null;
    clearInterval(ticker);
    live.hidden = true;
    recordButton.hidden = false;
    recordButton.disabled = false;
    return queue(async () => {
      const durationMs = await controller.stop();
      await keepHeader(key, draftId, mediaId, { ...header, durationMs });
      if (!closed) await reload();
    });
  }

  function togglePause() {
    if (!recording) return;
    if (recording.controller.state === "recording") {
      recording.controller.pause();
      pauseButton.textContent = t("Seguir grabando");
    } else {
      recording.controller.resume();
      pauseButton.textContent = t("Pausa");
    }
  }

  function addPhoto(file) {
    show("");
    queue(async () => {
      let photo;
      try {
        photo = await redrawPhoto(file);
      } catch {
        show(t("No se pudo leer la foto. Pruebe con otra."));
        return;
      }
      const mediaId = crypto.randomUUID();
      await keepFile(dataKey(), draftId, mediaId, { kind: "photo", mime: photo.mime, createdAt: Date.now() }, photo.bytes);
      const item = { id: mediaId, kind: "photo", mime: photo.mime, bytes: photo.bytes, thumb: photo.thumb, createdAt: Date.now() };
      items.push(item);
      prepareDigests(draftId, [item]);
      changed({ now: true });
      if (!closed) draw();
    });
  }

  function addAudioFile(file) {
    show("");
    const mime = baseType(file.type);
    if (!AUDIO_FILE_TYPES.includes(mime)) {
      show(t("Ese archivo no es una grabación que se pueda adjuntar."));
      return;
    }
    queue(async () => {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const mediaId = crypto.randomUUID();
      await keepFile(dataKey(), draftId, mediaId, { kind: "audio", mime, createdAt: Date.now() }, bytes);
      changed({ now: true });
      if (!closed) await reload();
    });
  }

  async function removeItem(item) {
    const sure = await askToConfirm(
      item.kind === "photo" ? t("¿Borrar esta foto? No se podrá recuperar.") : t("¿Borrar esta grabación? No se podrá recuperar."),
      t("Borrar"),
      t("Conservar"),
    );
    if (!sure) return;
    await queue(async () => {
      await dropMedia(draftId, item.id);
      items = items.filter((i) => i.id !== item.id);
      changed({ now: true });
      if (!closed) draw();
    });
  }

  recordButton.addEventListener("click", startRecordingNow);
  pauseButton.addEventListener("click", togglePause);
  stopButton.addEventListener("click", () => stopRecording());

  return {
    element,
    load: () => queue(reload),
    hasMedia: () => items.length > 0 || recording !== null,
    recording: () => recording !== null,
    // Everything made so far is on storage (a recording under way ends, keeping what was said).
    settle: () => stopRecording(),
    // The recordings and photos to save with the report, read back from what was kept.
    async media() {
      await stopRecording();
      return draftMedia(dataKey(), draftId);
    },
    // The form is gone: nothing decrypted stays reachable from the page.
    close() {
      closed = true;
      for (const url of urls) revokeUrl(url);
      urls.clear();
      items = [];
      list.replaceChildren();
    },
    forget: () => forgetDraft(draftId),
  };
}
