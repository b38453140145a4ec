// A new version of the app: offered on the home screen, taken over only between syncs.

import { rerenderHomeIfShown } from "./home.js";
import { status } from "./screen.js";

let waitingWorker = null;

export function applyUpdate() {
  if (waitingWorker && !status.syncing) waitingWorker.postMessage("take-over");
}

export async function registerServiceWorker() {
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
