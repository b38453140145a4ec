// This phone's outbox, and its copy of what the server offers (keys, forms, languages, the organisation's
// rules), kept sealed to the phone's key: no DOM here.

import * as api from "./api.js";
import * as kept from "./kept.js";
import * as lock from "./lock.js";
import { createOutbox } from "./outbox.js";

export const outbox = createOutbox({ store: kept.outboxStore, api });

// The server's word that this phone was revoked with a wipe (a 401 whose problem says "wipe": true).
export function ordersWipe(error) {
  return error instanceof api.ApiError && error.status === 401 && Boolean(error.problem && error.problem.wipe === true);
}

// A bootstrap that brings something new (a key the server now knows, a form) may fix what it refused.
// Answers "wiped" when the server ordered the wipe: done here, sealed reports kept and still sent.
export async function refreshBootstrap(token) {
  let data;
  try {
    data = await api.bootstrap(token);
  } catch (error) {
    if (!ordersWipe(error)) throw error;
    await lock.wipe();
    kept.forget();
    return "wiped";
  }
  await lock.setRules(data.phone);
  const unlocked = Boolean(lock.openPhoneKey());
  const before = unlocked ? await kept.read("bootstrap") : null;
  await kept.keep("bootstrap", data);
  // Locked, the stored copy cannot be compared: the refresh at the next unlock does it.
  if (unlocked && JSON.stringify(before) !== JSON.stringify(data)) outbox.retryRejected();
  return "fresh";
}

export async function requestBackgroundSync() {
  const registration = await navigator.serviceWorker?.ready;
  if (registration && "sync" in registration) {
    try {
      await registration.sync.register("queue");
    } catch {
      // Not allowed here (e.g. no permission): the page's own timers still send.
    }
  }
}
