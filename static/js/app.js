// The field app's page: screens, and the wiring between the outbox, storage and the service worker.
// Saved reports are sealed at once; only envelopes reach storage, and nothing here can read them back.

import * as api from "./api.js";
import { b64uDecode, b64uEncode, sealDocument } from "./crypto.js";
import * as db from "./db.js";
import { currentLocale, formatDate, setCatalog, t, tn } from "./i18n.js";
import { createOutbox, localDate } from "./outbox.js";
import { askToConfirm, dismissQuestion } from "./ui/confirm.js";
import { el, present } from "./ui/el.js";
import { buildForm, collectAnswers, validateForm } from "./ui/form.js";
import { canScanQr, scanQr } from "./ui/scanner.js";

const root = document.getElementById("app");
const outbox = createOutbox({ store: db, api });

const status = {
  progress: null, // { sent, total } while a sync runs
  syncing: false,
  problem: "", // why the last sync failed, in words
  waiting: "", // a sync that will be tried again by itself (offline, server busy), in words
  stalled: false, // the answer to the request in flight is overdue
  sent: null, // how many reports the last sync delivered
  disconnected: false,
  notice: "", // e.g. "saved"
  updateReady: false,
  persisted: null,
};

let shownScreen = "";

// Focus moves to the heading only when the screen changes, not when the same one is refreshed.
function show(screen, ...nodes) {
  root.replaceChildren(...present(nodes));
  if (screen !== shownScreen) root.querySelector("h1")?.focus();
  shownScreen = screen;
}

// --- enrollment

// `typed` is kept whatever happens; `retry` after a failure that was not a refusal (the code still holds).
async function enrollScreen({ message = "", typed = "", retry = false } = {}) {
  const input = el("input", {
    id: "code",
    name: "code",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
    required: true,
    value: typed || undefined,
    "aria-describedby": "code-hint",
  });
  const submit = el("button", { type: "submit", class: "primary", text: retry ? t("Reintentar") : t("Conectar este teléfono") });
  const form = el(
    "form",
    {
      class: "card",
      onsubmit: async (event) => {
        event.preventDefault();
        if (submit.disabled) return;
        submit.disabled = true;
        await enroll(input.value);
      },
    },
    el("label", { for: "code", text: t("Código de inscripción") }),
    el("p", { id: "code-hint", class: "hint", text: t("Se lo da su supervisor. Por ejemplo: 8HAV-8PKE-PY.") }),
    input,
    message ? el("p", { class: "error", role: "alert", text: message }) : null,
    submit,
    canScanQr() ? el("button", { type: "button", class: "secondary", onclick: scanScreen, text: t("Escanear código QR") }) : null,
  );
  show("enrol", el("h1", { tabindex: "-1", text: t("Conectar con su equipo") }), form, await languagePicker((message) => enrollScreen({ typed: input.value, message })));
}

function scanScreen() {
  const abort = new AbortController();
  const video = el("video", { class: "scanner", playsinline: true, muted: true, "aria-label": t("Cámara") });
  show(
    "scan",
    el("h1", { tabindex: "-1", text: t("Escanear código QR") }),
    el("p", { text: t("Apunte la cámara al código que muestra su supervisor.") }),
    video,
    el("button", { class: "secondary", onclick: () => abort.abort(), text: t("Cancelar") }),
  );
  scanQr(video, abort.signal).then(
    (code) => (code ? enroll(code) : enrollScreen()),
    () => enrollScreen({ message: t("No se pudo usar la cámara. Escriba el código.") }),
  );
}

// The code as the server reads it (case, spaces and dashes ignored, look-alikes folded), to tell a retry of
// the same code from a new one.
function canonicalCode(code) {
  return code.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
}

// One enrollment_id per code tried, kept on the phone: a retry after a lost answer (even after a reload)
// sends the same pair, and the server answers with the same phone instead of a spent code.
async function enrollmentIdFor(code) {
  const canonical = canonicalCode(code);
  const kept = await db.getSetting("enrollment");
  if (kept && kept.code === canonical) return kept.id;
  const id = b64uEncode(crypto.getRandomValues(new Uint8Array(16)));
  await db.setSetting("enrollment", { code: canonical, id });
  return id;
}

async function enroll(code) {
  const typed = code.trim();
  let answer;
  try {
    answer = await api.enroll(typed, await enrollmentIdFor(typed));
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 403) {
      return enrollScreen({ message: t("El código no es válido, ya se usó o caducó."), typed });
    }
    const busy = error instanceof api.ApiError && (error.status >= 500 || error.status === 429);
    if (error instanceof api.ApiError && !busy) return enrollScreen({ message: error.message, typed });
    return enrollScreen({
      message: busy
        ? t("El servidor está ocupado. Toque «Reintentar» en un momento; el código sigue sirviendo.")
        : t("No hay conexión con el servidor. Toque «Reintentar» cuando tenga señal; el código sigue sirviendo."),
      typed,
      retry: true,
    });
  }
  await db.setSetting("deviceToken", answer.device_token);
  await db.setSetting("team", answer.team);
  await db.deleteSetting("enrollment");
  // The code is spent now; if keys and forms do not arrive, they are fetched again at start and after sync.
  await refreshBootstrap(answer.device_token).catch(() => null);
  status.disconnected = false;
  await requestPersistence();
  outbox.reconnected();
  await startLanguage();
  await homeScreen();
}

// A bootstrap that brings something new (a key the server now knows, a form) may fix what it refused.
async function refreshBootstrap(token) {
  const data = await api.bootstrap(token);
  const before = await db.getSetting("bootstrap");
  await db.setSetting("bootstrap", data);
  if (JSON.stringify(before) !== JSON.stringify(data)) outbox.retryRejected();
  return data;
}

async function requestPersistence() {
  if (navigator.storage && navigator.storage.persist) {
    status.persisted = (await navigator.storage.persisted()) || (await navigator.storage.persist());
  }
}

// --- home

// `refreshing`: only redraw it if it is still on screen once its data is read (the worker may have moved on).
async function homeScreen(refreshing = false) {
  const [entries, lastSync, team] = await Promise.all([db.outboxEntries(), db.getSetting("lastSync"), db.getSetting("team")]);
  const queued = entries.filter((e) => e.state === "queued");
  const rejected = entries.filter((e) => e.state === "rejected");
  const items = [
    el("h1", { tabindex: "-1", text: t("Informes") }),
    status.notice ? el("p", { class: "notice", role: "status", text: status.notice }) : null,
    el(
      "div",
      { class: "actions" },
      el("button", { class: "primary", onclick: () => formScreen(false), text: t("Nuevo informe") }),
      el("button", { class: "secondary", onclick: () => formScreen(true), text: t("Informe rápido") }),
    ),
    el(
      "section",
      { class: "card", "aria-labelledby": "outbox-title" },
      el("h2", { id: "outbox-title", text: t("Por enviar") }),
      el("p", { class: "count", "data-testid": "queued", text: String(queued.length) }),
      queued.length
        ? el("p", { text: t("Guardado el primero: %(date)s", { date: formatDate(queued.map((e) => e.savedOn).sort()[0]) }) })
        : null,
      status.progress
        ? el("p", { role: "status", text: t("%(sent)s de %(total)s enviados", status.progress) })
        : null,
      status.sent && !status.progress
        ? el("p", {
            role: "status",
            "data-testid": "sent",
            text: tn("%(count)s informe enviado", "%(count)s informes enviados", status.sent),
          })
        : null,
      el("p", { "data-testid": "last-sync", text: lastSync ? t("Último envío: %(date)s", { date: formatDate(lastSync) }) : t("Aún no se ha enviado nada.") }),
      status.waiting ? el("p", { class: "waiting", role: "status", text: status.waiting }) : null,
      status.stalled
        ? el("p", { class: "waiting", role: "status", text: t("El servidor tarda en responder. «Enviar ahora» lo intenta de nuevo sin esperar más.") })
        : null,
      status.problem ? el("p", { class: "error", role: "alert", text: status.problem }) : null,
      el("button", {
        class: "secondary",
        onclick: () => outbox.sendNow(),
        disabled: !queued.length || (status.syncing && !status.stalled),
        text: t("Enviar ahora"),
      }),
    ),
    rejected.length
      ? el(
          "section",
          { class: "card warning" },
          el("h2", {
            text: tn("%(count)s informe no aceptado por el servidor", "%(count)s informes no aceptados por el servidor", rejected.length),
          }),
          el(
            "ul",
            { class: "rejected" },
            rejected.map((e) =>
              el(
                "li",
                {},
                el("span", { text: `${formatDate(e.savedOn)}: ${e.error || t("El servidor no dio el motivo.")}` }),
                el("button", { type: "button", class: "secondary", onclick: () => removeRejected(e.rid), text: t("Borrar del teléfono") }),
              ),
            ),
          ),
          el("p", { class: "hint", text: t("Se conservan en el teléfono y se vuelven a enviar cuando el servidor cambia. Avise a su supervisor.") }),
        )
      : null,
    status.disconnected
      ? el(
          "section",
          { class: "card warning", role: "alert" },
          el("p", { text: t("Este teléfono fue desconectado del equipo. Sus informes se conservan; pida un código nuevo.") }),
          el("button", { class: "secondary", onclick: () => enrollScreen(), text: t("Conectar de nuevo") }),
        )
      : null,
    status.updateReady
      ? el(
          "section",
          { class: "card" },
          el("p", { text: t("Hay una versión nueva de la aplicación.") }),
          el("button", { class: "secondary", onclick: applyUpdate, disabled: status.syncing, text: t("Actualizar") }),
        )
      : null,
    el(
      "p",
      { class: "hint", "data-testid": "storage" },
      status.persisted === true
        ? t("Almacenamiento persistente: concedido.")
        : t("Almacenamiento persistente: no concedido; el navegador podría borrar datos si falta espacio."),
    ),
    team ? el("p", { class: "hint", text: t("Equipo: %(team)s", { team }) }) : null,
    await languagePicker((message) => {
      if (message) status.problem = message;
      return homeScreen();
    }),
  ];
  if (refreshing && shownScreen !== "home") return;
  show("home", ...items);
}

// A refused report is gone for good once removed (the server does not have it): asked first.
async function removeRejected(rid) {
  const sure = await askToConfirm(
    t("¿Borrar este informe del teléfono? El servidor no lo tiene: se perderá para siempre."),
    t("Borrar"),
    t("Conservar"),
  );
  if (sure) await db.removeFromOutbox([rid]);
  await homeScreen();
}

// --- language: switched without a reload, remembered on the phone, works offline

// `redraw(message)` shows the screen the picker is on again, in the new language or with why not.
async function languagePicker(redraw) {
  const languages = await offeredLanguages();
  if (languages.length < 2) return null;
  const select = el(
    "select",
    { id: "language", onchange: (event) => switchLanguage(event.target.value, redraw) },
    languages.map((l) => el("option", { value: l.code, selected: l.code === currentLocale(), text: l.name })),
  );
  return el("div", { class: "field" }, el("label", { for: "language", text: t("Idioma") }), select);
}

// The phone's choice, else the phone's own language when the server offers it, else Spanish;
// ?lang=CODE previews a language (translators checking their work) without changing the phone's choice.
async function startLanguage() {
  const preview = new URLSearchParams(location.search).get("lang");
  const language = preview || (await db.getSetting("language")) || (await phoneLanguage());
  if (language && language !== currentLocale()) await applyLanguage(language).catch(() => null);
}

// The server's languages: from the last bootstrap, else (not enrolled yet) from the shell page itself.
async function offeredLanguages() {
  const bootstrap = await db.getSetting("bootstrap");
  if (bootstrap && bootstrap.locales) return bootstrap.locales;
  try {
    return JSON.parse(root.dataset.languages || "[]");
  } catch {
    return [];
  }
}

async function phoneLanguage() {
  const offered = (await offeredLanguages()).map((l) => l.code);
  for (const tag of navigator.languages || []) {
    const lower = tag.toLowerCase();
    const primary = lower.split("-")[0];
    if (offered.includes(lower)) return lower;
    if (offered.includes(primary)) return primary;
  }
  return "es";
}

async function applyLanguage(code) {
  setCatalog(code, code === "es" ? null : await api.catalog(code));
  api.setLanguage(code);
}

async function switchLanguage(code, redraw) {
  try {
    await applyLanguage(code);
    await db.setSetting("language", code);
  } catch {
    return redraw(t("Ese idioma no está en el teléfono todavía; conéctese una vez."));
  }
  return redraw("");
}

// --- the report form (answers live in memory only until they are sealed)

let openForm = null; // { hasAnswers() } while a report form is on screen

// Back from a form goes home inside the app; a form with answers asks first.
window.addEventListener("popstate", () => {
  if (!openForm) return;
  if (openForm.saving) {
    history.pushState({ screen: "form" }, ""); // a report being sealed and stored is not thrown away halfway
    return;
  }
  if (!openForm.hasAnswers()) {
    closeForm({ viaHistory: false });
    return;
  }
  history.pushState({ screen: "form" }, ""); // Back already left the form's entry: stay on it while asking
  discardForm();
});

async function discardForm() {
  if (openForm.hasAnswers()) {
    const sure = await askToConfirm(
      t("¿Descartar este informe? Las respuestas se borrarán y no se guardará nada."),
      t("Descartar"),
      t("Seguir con el informe"),
    );
    if (!sure || !openForm) return;
  }
  closeForm({ viaHistory: true });
}

function closeForm({ viaHistory }) {
  openForm = null;
  dismissQuestion();
  if (viaHistory) history.back(); // the form's own history entry goes; popstate finds no form open
  return homeScreen();
}

// Why a report could not be stored, in words, with what to do; the form stays as it was.
function saveProblem(error) {
  if (error && error.name === "QuotaExceededError") {
    return t("El teléfono no tiene espacio libre: el informe no se guardó. Libere espacio (fotos, videos, otras aplicaciones) y toque «Guardar y cifrar» otra vez; sus respuestas siguen aquí.");
  }
  return t("No se pudo guardar el informe en el teléfono. Toque «Guardar y cifrar» otra vez; sus respuestas siguen aquí. Si vuelve a fallar, avise a su supervisor.");
}

async function formScreen(quick) {
  const bootstrap = await db.getSetting("bootstrap");
  const definition = bootstrap && bootstrap.forms.find((f) => f.id === "trafficking-report");
  const key = bootstrap && bootstrap.keys.find((k) => k.current);
  if (!definition || !key) {
    status.problem = t("Falta el formulario: conéctese una vez para descargarlo.");
    return homeScreen();
  }
  status.notice = "";
  // The report's identity is made once per form: a double tap or a retry saves this one report, not two.
  const rid = crypto.randomUUID();
  const form = buildForm(definition, quick);
  const summary = el("p", { class: "error", role: "alert", hidden: true });
  const save = el("button", { type: "submit", class: "primary", text: t("Guardar y cifrar") });
  const discard = el("button", { type: "button", class: "secondary", onclick: discardForm, text: t("Descartar") });
  form.append(summary, el("div", { class: "actions" }, save, discard));
  const untouched = JSON.stringify(collectAnswers(form, definition, quick)); // defaults such as today's date
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (save.disabled) return;
    const problems = validateForm(form, definition, quick);
    if (problems.length) {
      summary.textContent = t("Revise las preguntas marcadas.");
      summary.hidden = false;
      form.querySelector(`[data-field="${problems[0].field}"]`).scrollIntoView();
      return;
    }
    save.disabled = discard.disabled = thisForm.saving = true;
    summary.hidden = true;
    try {
      await saveReport(definition, key, rid, collectAnswers(form, definition, quick));
    } catch (error) {
      summary.textContent = saveProblem(error);
      summary.hidden = false;
      save.disabled = discard.disabled = thisForm.saving = false;
      return;
    }
    status.notice = t("Informe guardado y cifrado. Ya no se puede leer en este teléfono.");
    await closeForm({ viaHistory: true });
    requestBackgroundSync();
    outbox.drain();
  });
  if (!openForm) history.pushState({ screen: "form" }, "");
  const thisForm = {
    saving: false,
    hasAnswers: () => JSON.stringify(collectAnswers(form, definition, quick)) !== untouched,
  };
  openForm = thisForm;
  show(quick ? "quick form" : "form", el("h1", { tabindex: "-1", text: quick ? t("Informe rápido") : t("Nuevo informe") }), form);
}

// Seal first, then store: nothing readable is ever written. One transaction: stored whole or not at all.
async function saveReport(definition, key, rid, answers) {
  const doc = {
    form: definition.id,
    form_version: definition.version,
    created_at: new Date().toISOString(),
    locale: document.documentElement.lang,
    answers,
    attachments: [],
  };
  const envelope = await sealDocument(doc, b64uDecode(key.pub), rid);
  await db.addToOutbox(envelope, localDate());
}

// --- sync and updates

async function requestBackgroundSync() {
  const registration = await navigator.serviceWorker?.ready;
  if (registration && "sync" in registration) {
    try {
      await registration.sync.register("fieldapp-outbox");
    } catch {
      // Not allowed here (e.g. no permission): the page's own timers still send.
    }
  }
}

function rerenderHomeIfShown() {
  if (shownScreen === "home") homeScreen(true);
}

outbox.events.addEventListener("progress", (event) => {
  status.syncing = true;
  status.stalled = false;
  status.progress = event.detail;
  rerenderHomeIfShown();
});
outbox.events.addEventListener("stalled", () => {
  status.stalled = true; // "Enviar ahora" is offered again: it gives up on this request and sends anew
  rerenderHomeIfShown();
});
outbox.events.addEventListener("synced", async (event) => {
  status.syncing = false;
  status.stalled = false;
  status.progress = null;
  status.problem = "";
  status.waiting = "";
  status.sent = event.detail.sent;
  const token = await db.getSetting("deviceToken");
  try {
    await refreshBootstrap(token);
  } catch {
    // The reports went; fresh keys and forms can wait for the next sync.
  }
  rerenderHomeIfShown();
});
outbox.events.addEventListener("idle", () => {
  status.syncing = false;
  status.stalled = false;
  rerenderHomeIfShown();
});
// Each of these is tried again by itself; none is the worker's failure to fix, so none is shown as an error.
const WAITING = {
  offline: () => t("Sin conexión; se enviará cuando haya señal."),
  busy: () => t("Servidor ocupado, se reintentará."),
  unreadable: () => t("La respuesta del servidor llegó incompleta; se reintentará."),
};
outbox.events.addEventListener("failed", (event) => {
  status.syncing = false;
  status.stalled = false;
  status.progress = null;
  const waiting = WAITING[event.detail.kind];
  status.waiting = waiting ? waiting() : "";
  status.problem = waiting ? "" : event.detail.message;
  rerenderHomeIfShown();
});
outbox.events.addEventListener("disconnected", () => {
  status.syncing = false;
  status.stalled = false;
  status.progress = null;
  status.waiting = "";
  status.disconnected = true;
  rerenderHomeIfShown();
});

window.addEventListener("online", () => outbox.online());

let waitingWorker = null;

function applyUpdate() {
  if (waitingWorker && !status.syncing) waitingWorker.postMessage("take-over");
}

async function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  const registration = await navigator.serviceWorker.register("/sw.js", { type: "module" });
  const offer = (worker) => {
    waitingWorker = worker;
    status.updateReady = true;
    rerenderHomeIfShown();
  };
  if (registration.waiting && navigator.serviceWorker.controller) offer(registration.waiting);
  registration.addEventListener("updatefound", () => {
    const worker = registration.installing;
    worker.addEventListener("statechange", () => {
      if (worker.state === "installed" && navigator.serviceWorker.controller) offer(worker);
    });
  });
  let reloading = false;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (!reloading && waitingWorker) {
      reloading = true;
      location.reload();
    }
  });
}

async function start() {
  registerServiceWorker();
  await startLanguage();
  if (navigator.storage && navigator.storage.persisted) status.persisted = await navigator.storage.persisted();
  const token = await db.getSetting("deviceToken");
  if (!token) return enrollScreen();
  await homeScreen();
  refreshBootstrap(token).catch(() => null); // offline is normal: the stored copy serves
  outbox.start();
}

start();
