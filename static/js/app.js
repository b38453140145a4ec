// The field app's page: the wiring between the outbox, the screens and the service worker.
// Saved reports are sealed at once; only envelopes reach storage, and nothing here can read them back.

import * as db from "./db.js";
import { t } from "./i18n.js";
import * as lock from "./lock.js";
import { outbox, refreshBootstrap } from "./sync.js";
import { enrollScreen } from "./ui/enrolment.js";
import { homeScreen, rerenderHomeIfShown } from "./ui/home.js";
import { startLanguage } from "./ui/language.js";
import { lockScreen, pinSetupScreen } from "./ui/lock.js";
import { dropForm } from "./ui/report.js";
import { status } from "./ui/screen.js";
import { registerServiceWorker } from "./ui/update.js";

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
  if (await lock.wasWiped()) return; // a wiped phone only delivers its outbox: it fetches no forms again
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


// Hidden for longer than this, the phone locks: what was on screen is dropped with the key.
const LOCK_AFTER_HIDDEN_MS = 2 * 60 * 1000;
let hiddenSince = null;

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") {
    hiddenSince = Date.now();
    return;
  }
  const away = hiddenSince === null ? 0 : Date.now() - hiddenSince;
  hiddenSince = null;
  if (away > LOCK_AFTER_HIDDEN_MS && lock.openKey()) showLocked();
});

function showLocked() {
  lock.lockNow();
  dropForm();
  return lockScreen(homeScreen, afterWipe);
}

function afterWipe() {
  return enrollScreen({ message: t("Se borró lo que había en este teléfono. Los informes guardados se enviarán igual. Para seguir, conéctelo con un código nuevo.") });
}

async function start() {
  registerServiceWorker();
  await startLanguage();
  if (navigator.storage && navigator.storage.persisted) status.persisted = await navigator.storage.persisted();
  const token = await db.getSetting("deviceToken");
  if (!token) return enrollScreen();
  // Sealed reports go whatever the screen shows: the outbox needs no PIN, nothing readable is in it.
  outbox.start();
  if (await lock.wasWiped()) return afterWipe();
  refreshBootstrap(token).catch(() => null); // offline is normal: the stored copy serves
  if (!(await lock.hasPin())) return pinSetupScreen(homeScreen); // a phone enrolled before the PIN existed
  return lockScreen(homeScreen, afterWipe);
}

start();
