// The phone's lock: the PIN's vault record in storage, the data key in memory only while unlocked, wrong PINs
// counted across reloads, and the wipe after too many. No DOM: the screens are in ui/lock.js.

import * as db from "./db.js";
import { WrongPin, calibrateIterations, createVault, openVault, pinDelaySeconds } from "./vault.js";

export const MIN_PIN_LENGTH = 6;
export const MAX_PIN_FAILURES = 10;
// What a wipe keeps: the sealed outbox (in its own store) still syncs with the device token.
const KEPT_BY_WIPE = ["deviceToken", "wiped"];

let dataKey = null;

export function openKey() {
  return dataKey;
}

export function lockNow() {
  dataKey = null;
}

export async function hasPin() {
  return Boolean(await db.getSetting("lock"));
}

export async function setPin(pin) {
  const { record, dataKey: key } = await createVault(pin, await calibrateIterations());
  await db.setSetting("lock", record);
  await db.deleteSetting("pinFailures");
  dataKey = key;
}

// Seconds the next try must wait (0: it may go now).
export async function secondsToWait() {
  const failures = (await db.getSetting("pinFailures")) || { count: 0, at: 0 };
  const due = failures.at + pinDelaySeconds(failures.count) * 1000;
  return Math.max(0, Math.ceil((due - Date.now()) / 1000));
}

// "open", "wrong" (counted), "wait" (too soon after the last wrong one) or "wiped" (one wrong PIN too many).
export async function tryPin(pin) {
  if ((await secondsToWait()) > 0) return "wait";
  try {
    dataKey = await openVault(pin, await db.getSetting("lock"));
  } catch (error) {
    if (!(error instanceof WrongPin)) throw error;
    const failures = (await db.getSetting("pinFailures")) || { count: 0, at: 0 };
    const count = failures.count + 1;
    if (count >= MAX_PIN_FAILURES) {
      await wipe();
      return "wiped";
    }
    await db.setSetting("pinFailures", { count, at: Date.now() });
    return "wrong";
  }
  await db.deleteSetting("pinFailures");
  return "open";
}

// Drafts, the vault and every readable setting go; undelivered sealed reports stay and keep syncing.
export async function wipe() {
  dataKey = null;
  await db.wipeSensitive(KEPT_BY_WIPE);
  await db.setSetting("wiped", true);
}

export async function wasWiped() {
  return Boolean(await db.getSetting("wiped"));
}
