// The field app's page: the wiring between the outbox, the screens and the service worker.
// Saved reports are sealed at once; only envelopes reach storage, and nothing here can read them back.

import * as db from "./db.js";
import { t } from "./i18n.js";
import { outbox, refreshBootstrap } from "./sync.js";
import { enrollScreen } from "./ui/enrolment.js";
import { homeScreen, rerenderHomeIfShown } from "./ui/home.js";
import { startLanguage } from "./ui/language.js";
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
