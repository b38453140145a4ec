// The page's one screen area, and the state of the phone that every screen may show.

import { t } from "../i18n.js";
import { openKey } from "../lock.js";
import { el, present } from "./el.js";

export const root = document.getElementById("app");

export const status = {
  progress: null, // { sent, total } while a sync runs
  part: null, // { rid, aid, index, chunks }: the attachment part on its way
  syncing: false,
  problem: "", // why the last sync failed, in words
  waiting: "", // a sync that will be tried again by itself (offline, server busy), in words
  stalled: false, // the answer to the request in flight is overdue
  sent: null, // how many reports the last sync delivered
  disconnected: false,
  keysRefused: false, // the server's key list is not signed by the organisation this phone pinned
  notice: "", // e.g. "saved"
  updateReady: false,
  persisted: null,
};

let shown = "";
let exit = null;

// Screens that show nothing of the app's purpose need no way out; every other one has "Cerrar" on top.
const NEUTRAL = new Set(["lock", "empty", "pin setup"]);
// Screens of a phone that holds nothing yet (not enrolled, or wiped): no key needed to show them.
const BEFORE_ANY_KEY = new Set(["enrol", "scan"]);

export function onQuickExit(handler) {
  exit = handler;
}

// Focus moves to the heading only when the screen changes, not when the same one is refreshed.
export function show(screen, ...nodes) {
  // Work begun before a lock (a save, a screen reading its data) finishes after it: it must not draw.
  if (!openKey() && !NEUTRAL.has(screen) && !BEFORE_ANY_KEY.has(screen)) return;
  const wayOut = exit && !NEUTRAL.has(screen) ? el("button", { type: "button", class: "exit", "data-quick-exit": "", onclick: exit, text: t("Cerrar") }) : null;
  root.replaceChildren(...present([wayOut, ...nodes]));
  if (screen !== shown) root.querySelector("h1")?.focus();
  shown = screen;
}

export function shownScreen() {
  return shown;
}

// Nothing on screen at once (a quick exit, the app hidden): the lock screen follows.
export function blank() {
  root.replaceChildren();
  shown = "";
}
