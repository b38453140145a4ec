// The page's side of the service worker: a new version offered on the home screen and taken over only
// between syncs, and the screens it keeps sealed (sealed.js) sealed and opened.

import { ask } from "../ask.js";
import * as kept from "../kept.js";
import { rerenderHomeIfShown } from "./sealed.js";
import { status } from "./screen.js";

const SEALING_MS = 10000;

let waitingWorker = null;

export function applyUpdate() {
  if (waitingWorker && !status.syncing) waitingWorker.postMessage("take-over");
}

// The worker asks for its sealed screens while this page loads them: opened only if the PIN opened the keys.
function answerTheWorker() {
  navigator.serviceWorker.addEventListener("message", async (event) => {
    if (!event.data || typeof event.data.open !== "string" || !event.ports[0]) return;
    event.ports[0].postMessage(await kept.open(event.data.open, event.data.sealed));
  });
  navigator.serviceWorker.startMessages();
}

const askToSeal = (worker) => ask(worker, "seal-screens", SEALING_MS, false).then((sealed) => sealed === true);

// The phone has its key now (the PIN is set): the workers seal their version's screens, so that they open
// offline, the one in charge and any new one waiting to take over (it may do so offline). True once the one
// in charge has; false if it could not (offline, or no worker yet), to be asked again.
export async function sealScreens() {
  if (!("serviceWorker" in navigator)) return false;
  const ready = navigator.serviceWorker.getRegistration().then((registration) => registration && navigator.serviceWorker.ready);
  const registration = await Promise.race([ready, new Promise((resolve) => setTimeout(resolve, SEALING_MS))]);
  if (!registration || !registration.active) return false;
  const next = registration.waiting || registration.installing;
  if (next) askToSeal(next);
  return askToSeal(registration.active);
}

export async function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  answerTheWorker();
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
