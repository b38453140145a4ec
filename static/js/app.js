// The field app's page: the wiring between the outbox, the screens and the service worker.
// Saved reports are sealed at once; only envelopes reach storage, and nothing here can read them back.

import * as db from "./db.js";
import { wipeExpiredDrafts } from "./drafts.js";
import { t } from "./i18n.js";
import * as kept from "./kept.js";
import * as lock from "./lock.js";
import { outbox, refreshBootstrap, requestBackgroundSync } from "./sync.js";
import { enrollScreen } from "./ui/enrolment.js";
import { prefetchCatalogs, startLanguage, unlockedLanguage } from "./ui/language.js";
import { dismissQuestion } from "./ui/confirm.js";
import { emptyScreen, lockScreen } from "./ui/lock.js";
import { pinSetupScreen } from "./ui/pin-setup.js";
import { applyLook } from "./ui/look.js";
import { dropForm, flushForm, homeScreen, rerenderHomeIfShown } from "./ui/sealed.js";
import { blank, onQuickExit, shownScreen, status } from "./ui/screen.js";
import { registerServiceWorker, sealScreens } from "./ui/update.js";

outbox.events.addEventListener("progress", (event) => {
  status.syncing = true;
  status.stalled = false;
  // Reports' envelopes ({ sent, total }) or one part of an attachment ({ part }).
  if (event.detail.part) status.part = event.detail.part;
  else status.progress = event.detail;
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
  status.part = null;
  status.problem = "";
  status.waiting = "";
  status.sent = event.detail.sent;
  await refreshAfterContact();
  rerenderHomeIfShown();
});
outbox.events.addEventListener("idle", async () => {
  status.syncing = false;
  status.stalled = false;
  // Nothing to send: still ask now and then, so that a wipe ordered by the dashboard arrives.
  if (Date.now() - refreshedAt > REFRESH_WHEN_IDLE_MS) await refreshAfterContact();
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
  status.part = null;
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

const REFRESH_WHEN_IDLE_MS = 15 * 60 * 1000;
let refreshedAt = 0;

// Fresh keys, forms and rules once the outbox has had its turn; a revoked phone's wipe order comes this way,
// after its sealed reports went (and any still queued stay, and still go).
let refreshing = null;

// One at a time: the start's, an unlock's and a sync's may come together.
function refreshAfterContact() {
  refreshing = refreshing || refreshOnce().finally(() => (refreshing = null));
  return refreshing;
}

async function refreshOnce() {
  if (await lock.wasWiped()) return; // a wiped phone only delivers its outbox: it fetches no forms again
  const token = await db.getSetting("deviceToken");
  if (!token) return;
  refreshedAt = Date.now();
  let outcome = null;
  try {
    outcome = await refreshBootstrap(token);
  } catch {
    return; // offline or busy: the stored copy serves, and the next sync asks again
  }
  if (outcome === "wiped") {
    await dropForm();
    showEmpty();
    return;
  }
  if (status.keysRefused !== (outcome === "refused")) {
    status.keysRefused = outcome === "refused";
    rerenderHomeIfShown();
  }
}

// Hidden for longer than the organisation's lock delay (2 minutes unless set), the phone locks: what was on
// screen is dropped with the keys. A delay of 0 locks as soon as the app is hidden.
let hiddenSince = null;

document.addEventListener("visibilitychange", async () => {
  // The state and the time are read at once: the rules come from storage, after the page may have changed.
  const now = Date.now();
  if (document.visibilityState === "hidden") {
    hiddenSince = now;
    if (!lock.openKey()) return;
    // Hidden, nothing shows (the recent-apps picture) and the form's last change is kept at once.
    document.body.classList.add("covered");
    flushForm();
    if ((await lock.rules()).lock_minutes === 0) showLocked();
    return;
  }
  const away = hiddenSince === null ? 0 : now - hiddenSince;
  hiddenSince = null;
  if (lock.openKey() && away > (await lock.rules()).lock_minutes * 60 * 1000) await showLocked();
  document.body.classList.remove("covered");
});

// Locked: nothing on screen at once, the form's last change kept as a draft (its answers are read before the
// keys go, and sealed with them), then every key and decrypted word dropped from memory.
async function showLocked() {
  const keeping = dropForm();
  dismissQuestion(); // a question open on top (its box is outside the screen area) goes too
  blank();
  lock.lockNow();
  kept.forget();
  await keeping;
  await startLanguage(); // back to the locked screens' few words
  if (!(await lock.hasPin())) return showEmpty();
  return lockScreen(unlocked, showEmpty);
}

// Quick exit: within a second the app is locked under its look, and Back finds no form behind it. On the
// lock screen itself it overtakes a PIN being checked, which then opens nothing.
async function quickExit() {
  if (["lock", "empty", "pin setup"].includes(shownScreen())) {
    lock.lockNow();
    return;
  }
  history.replaceState(null, "", "/");
  await showLocked();
}
onQuickExit(quickExit);

// A gesture for it too: three quick taps anywhere but on a field or a button, or Escape on a keyboard. Only
// taps count: a touch that moves (a scroll) or lasts is not one.
let taps = [];
let touch = null;
document.addEventListener("pointerdown", (event) => {
  const onControl = event.target.closest("input, select, textarea, button, label, a"); // a question's box counts
  touch = onControl ? null : { x: event.clientX, y: event.clientY, at: event.timeStamp };
  if (onControl) taps = [];
});
document.addEventListener("pointercancel", () => {
  touch = null;
  taps = [];
});
document.addEventListener("pointerup", (event) => {
  if (!touch) return;
  const moved = Math.hypot(event.clientX - touch.x, event.clientY - touch.y);
  const tapped = moved < 12 && event.timeStamp - touch.at < 400;
  touch = null;
  if (!tapped) {
    taps = [];
    return;
  }
  taps = taps.filter((at) => event.timeStamp - at < 900);
  taps.push(event.timeStamp);
  if (taps.length >= 3) {
    taps = [];
    quickExit();
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !document.querySelector("dialog[open]")) quickExit();
});

// Wiped (too many wrong PINs, the duress PIN, "Olvidé el PIN" or the dashboard): an empty app under its
// look; its "Ajustes" lead to a new enrolment. The sealed outbox still goes.
function showEmpty() {
  kept.forget(); // a wipe: nothing opened before stays in memory
  return emptyScreen(() => enrollScreen());
}

// After a duress PIN the app still asks for a PIN (that one opens it, empty); after other wipes it has none.
async function showWiped() {
  return (await lock.hasPin()) ? lockScreen(showEmpty, showEmpty) : showEmpty();
}

// The PIN opened the keys: the whole language, leftovers sealed, what the server has now, then home.
async function unlocked() {
  await unlockedLanguage();
  await kept.flush(); // kept while the vault had no phone key yet
  await kept.sealLeftovers();
  // The start asked already, locked; a phone left unlocked asks again at its next sync or after a while.
  if (Date.now() - refreshedAt > REFRESH_WHEN_IDLE_MS) refreshAfterContact();
  prefetchCatalogs().then((changed) => changed && rerenderHomeIfShown(), () => null); // offline: the sealed copies serve
  await sealScreens(); // at once after a PIN is set, so that the phone works offline from now on
  return homeScreen();
}

async function start() {
  registerServiceWorker();
  await applyLook();
  await startLanguage();
  if (navigator.storage && navigator.storage.persisted) status.persisted = await navigator.storage.persisted();
  const token = await db.getSetting("deviceToken");
  if (!token) return (await lock.wasWiped()) ? showWiped() : enrollScreen();
  // Sealed reports go whatever the screen shows: the outbox needs no PIN, nothing readable is in it.
  const firstDrain = outbox.start();
  await wipeExpiredDrafts();
  await kept.sealLeftovers();
  sealScreens(); // a phone whose worker installed before it had a key
  if ((await db.outboxEntries()).length) requestBackgroundSync(); // sent even if the app is not opened again
  if (await lock.wasWiped()) return showWiped();
  firstDrain.finally(refreshAfterContact); // offline is normal: the stored copy serves
  if (!(await lock.hasPin())) return pinSetupScreen(unlocked); // a phone enrolled before the PIN existed
  return lockScreen(unlocked, showEmpty);
}

start();
