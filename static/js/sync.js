// This phone's outbox, and its copy of what the server offers (keys, forms, languages): no DOM here.

import * as api from "./api.js";
import * as db from "./db.js";
import { createOutbox } from "./outbox.js";

export const outbox = createOutbox({ store: db, api });

// A bootstrap that brings something new (a key the server now knows, a form) may fix what it refused.
export async function refreshBootstrap(token) {
  const data = await api.bootstrap(token);
  const before = await db.getSetting("bootstrap");
  await db.setSetting("bootstrap", data);
  if (JSON.stringify(before) !== JSON.stringify(data)) outbox.retryRejected();
  return data;
}


export async function requestBackgroundSync() {
  const registration = await navigator.serviceWorker?.ready;
  if (registration && "sync" in registration) {
    try {
      await registration.sync.register("fieldapp-outbox");
    } catch {
      // Not allowed here (e.g. no permission): the page's own timers still send.
    }
  }
}
