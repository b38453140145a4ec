// The field app's page: screens, and the wiring between the outbox, storage and the service worker.
// Saved reports are sealed at once; only envelopes reach storage, and nothing here can read them back.

import * as api from "./api.js";
import { b64uDecode, sealDocument } from "./crypto.js";
import * as db from "./db.js";
import { currentLocale, formatDate, setCatalog, t, tn } from "./i18n.js";
import { createOutbox, localDate } from "./outbox.js";
import { buildForm, collectAnswers, validateForm } from "./ui/form.js";
import { canScanQr, scanQr } from "./ui/scanner.js";

const root = document.getElementById("app");
const outbox = createOutbox({ store: db, api });

const status = {
  progress: null, // { sent, total } while a sync runs
  syncing: false,
  problem: "", // why the last sync failed, in words
  disconnected: false,
  notice: "", // e.g. "saved"
  updateReady: false,
  persisted: null,
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === undefined || value === null) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

let shownScreen = "";

// Focus moves to the heading only when the screen changes, not when the same one is refreshed.
function show(screen, ...nodes) {
  root.replaceChildren(...nodes);
  if (screen !== shownScreen) root.querySelector("h1")?.focus();
  shownScreen = screen;
}

// --- enrollment

function enrollScreen(message = "") {
  const input = el("input", {
    id: "code",
    name: "code",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
    required: true,
    "aria-describedby": "code-hint",
  });
  const form = el(
    "form",
    {
      class: "card",
      onsubmit: async (event) => {
        event.preventDefault();
        await enroll(input.value);
      },
    },
    el("label", { for: "code", text: t("Código de inscripción") }),
    el("p", { id: "code-hint", class: "hint", text: t("Se lo da su supervisor. Por ejemplo: 8HAV-8PKE-PY.") }),
    input,
    message ? el("p", { class: "error", role: "alert", text: message }) : null,
    el("button", { type: "submit", class: "primary", text: t("Conectar este teléfono") }),
    canScanQr() ? el("button", { type: "button", class: "secondary", onclick: scanScreen, text: t("Escanear código QR") }) : null,
  );
  show("enrol", el("h1", { tabindex: "-1", text: t("Conectar con su equipo") }), form);
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
    () => enrollScreen(t("No se pudo usar la cámara. Escriba el código.")),
  );
}

async function enroll(code) {
  let answer;
  try {
    answer = await api.enroll(code.trim());
  } catch (error) {
    return enrollScreen(
      error instanceof api.ApiError && error.status === 403
        ? t("El código no es válido, ya se usó o caducó.")
        : t("No hay conexión con el servidor. Inténtelo cuando tenga señal."),
    );
  }
  await db.setSetting("deviceToken", answer.device_token);
  await db.setSetting("team", answer.team);
  // The code is spent now; if keys and forms do not arrive, they are fetched again at start and after sync.
  await refreshBootstrap(answer.device_token).catch(() => null);
  status.disconnected = false;
  await requestPersistence();
  outbox.reconnected();
  await startLanguage();
  await homeScreen();
}

async function refreshBootstrap(token) {
  const data = await api.bootstrap(token);
  await db.setSetting("bootstrap", data);
  return data;
}

async function requestPersistence() {
  if (navigator.storage && navigator.storage.persist) {
    status.persisted = (await navigator.storage.persisted()) || (await navigator.storage.persist());
  }
}

// --- home

async function homeScreen() {
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
      el("p", { "data-testid": "last-sync", text: lastSync ? t("Último envío: %(date)s", { date: formatDate(lastSync) }) : t("Aún no se ha enviado nada.") }),
      status.problem ? el("p", { class: "error", role: "alert", text: status.problem }) : null,
      el("button", {
        class: "secondary",
        onclick: () => outbox.online(),
        disabled: status.syncing || !queued.length,
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
          el("ul", {}, rejected.map((e) => el("li", { text: `${formatDate(e.savedOn)}: ${e.error || t("El servidor no dio el motivo.")}` }))),
          el("p", { class: "hint", text: t("Se conservan en el teléfono. Avise a su supervisor.") }),
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
    await languagePicker(),
  ];
  show("home", ...items);
}

// --- language: switched without a reload, remembered on the phone, works offline

async function languagePicker() {
  const bootstrap = await db.getSetting("bootstrap");
  const languages = (bootstrap && bootstrap.locales) || [];
  if (languages.length < 2) return null;
  const select = el(
    "select",
    { id: "language", onchange: (event) => switchLanguage(event.target.value) },
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

async function phoneLanguage() {
  const bootstrap = await db.getSetting("bootstrap");
  const offered = ((bootstrap && bootstrap.locales) || []).map((l) => l.code);
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

async function switchLanguage(code) {
  try {
    await applyLanguage(code);
    await db.setSetting("language", code);
  } catch {
    status.problem = t("Ese idioma no está en el teléfono todavía; conéctese una vez.");
  }
  await homeScreen();
}

// --- the report form (answers live in memory only until they are sealed)

async function formScreen(quick) {
  const bootstrap = await db.getSetting("bootstrap");
  const definition = bootstrap && bootstrap.forms.find((f) => f.id === "trafficking-report");
  if (!definition) {
    status.problem = t("Falta el formulario: conéctese una vez para descargarlo.");
    return homeScreen();
  }
  status.notice = "";
  const form = buildForm(definition, quick);
  const summary = el("p", { class: "error", role: "alert", hidden: true });
  form.append(
    summary,
    el(
      "div",
      { class: "actions" },
      el("button", { type: "submit", class: "primary", text: t("Guardar y cifrar") }),
      el("button", { type: "button", class: "secondary", onclick: () => homeScreen(), text: t("Descartar") }),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const problems = validateForm(form, definition, quick);
    if (problems.length) {
      summary.textContent = t("Revise las preguntas marcadas.");
      summary.hidden = false;
      form.querySelector(`[data-field="${problems[0].field}"]`).scrollIntoView();
      return;
    }
    await saveReport(definition, collectAnswers(form, definition, quick));
  });
  show(quick ? "quick form" : "form", el("h1", { tabindex: "-1", text: quick ? t("Informe rápido") : t("Nuevo informe") }), form);
}

async function saveReport(definition, answers) {
  const bootstrap = await db.getSetting("bootstrap");
  const key = bootstrap.keys.find((k) => k.current);
  const doc = {
    form: definition.id,
    form_version: definition.version,
    created_at: new Date().toISOString(),
    locale: document.documentElement.lang,
    answers,
    attachments: [],
  };
  // Seal first, then store: nothing readable is ever written.
  const envelope = await sealDocument(doc, b64uDecode(key.pub));
  await db.addToOutbox(envelope, localDate());
  status.notice = t("Informe guardado y cifrado. Ya no se puede leer en este teléfono.");
  await homeScreen();
  requestBackgroundSync();
  outbox.drain();
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
  if (shownScreen === "home") homeScreen();
}

outbox.events.addEventListener("progress", (event) => {
  status.syncing = true;
  status.progress = event.detail;
  rerenderHomeIfShown();
});
outbox.events.addEventListener("synced", async () => {
  status.syncing = false;
  status.progress = null;
  status.problem = "";
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
  rerenderHomeIfShown();
});
outbox.events.addEventListener("failed", (event) => {
  status.syncing = false;
  status.progress = null;
  status.problem =
    event.detail.status >= 500 || event.detail.status === 429
      ? t("El servidor no está disponible; se volverá a intentar.")
      : t("Sin conexión; se enviará cuando haya señal.");
  rerenderHomeIfShown();
});
outbox.events.addEventListener("disconnected", () => {
  status.syncing = false;
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
