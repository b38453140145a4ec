// The phone's lock: the PIN's vault record in storage, the keys in memory only while unlocked, wrong PINs
// counted across reloads, the wipe after too many, and the duress PIN. No DOM: the screens are in ui/lock.js.

import * as db from "./db.js";
import { WrongPin, addPhoneKey, calibrateIterations, createVault, duressMarker, openPhoneKey as unwrapPhoneKey, pinDelaySeconds, tryVault } from "./vault.js";

export const MIN_PIN_LENGTH = 6;
const MARKER_BYTES = 32; // what duressMarker seals: 16 bytes and the 16-byte GCM tag
// The organisation's rules (bootstrap "phone"), kept in the clear: a locked phone must apply them.
export const DEFAULT_RULES = { pin_failures: 10, draft_hours: 72, lock_minutes: 2, duress_pin: false, recording_minutes: 10 };
// What a wipe keeps: the sealed outbox (in its own store) still syncs with the device token, and the phone
// still looks like what it was installed as.
const KEPT_BY_WIPE = ["deviceToken", "wiped", "look", "language", "rules", "signer"]; // the pin outlives a wipe: a server must not reset it

let dataKey = null;
let phoneKey = null;
let epoch = 0; // moves on at every lock: work begun before it must not show or keep anything after it

export function openKey() {
  return dataKey;
}

export function openPhoneKey() {
  return phoneKey;
}

export async function phonePublicKey() {
  const record = await db.getSetting("lock");
  return (record && record.phone && record.phone.pub) || null;
}

export function lockNow() {
  dataKey = null;
  phoneKey = null;
  epoch += 1;
}


export async function rules() {
  return { ...DEFAULT_RULES, ...((await db.getSetting("rules")) || {}) };
}

// Only numbers within the server's own ranges are taken; anything else keeps the rule in force.
export async function setRules(phone) {
  if (!phone || typeof phone !== "object") return;
  const current = await rules();
  const next = { ...current };
  const within = (value, low, high) => Number.isInteger(value) && value >= low && value <= high;
  if (within(phone.pin_failures, 3, 50)) next.pin_failures = phone.pin_failures;
  if (within(phone.draft_hours, 1, 720)) next.draft_hours = phone.draft_hours;
  if (within(phone.lock_minutes, 0, 60)) next.lock_minutes = phone.lock_minutes;
  if (within(phone.recording_minutes, 1, 60)) next.recording_minutes = phone.recording_minutes;
  if (typeof phone.duress_pin === "boolean") next.duress_pin = phone.duress_pin;
  if (JSON.stringify(next) !== JSON.stringify(current)) await db.setSetting("rules", next);
}

export async function hasPin() {
  return Boolean(await db.getSetting("lock"));
}

// `duressPin` (optional, where the organisation allows it) opens an empty app and wipes silently.
export async function setPin(pin, duressPin = "") {
  const { record, dataKey: key } = await createVault(pin, await calibrateIterations());
  const withPhoneKey = await addPhoneKey(key, record);
  // Every vault has a marker, so its presence does not tell whether a duress PIN was chosen; without one it
  // is random bytes of the same size (a sealed marker looks no different), at no second PBKDF2 run.
  withPhoneKey.duress = duressPin ? await duressMarker(duressPin, withPhoneKey) : randomMarker();
  await db.setSetting("lock", withPhoneKey);
  await db.deleteSetting("pinFailures");
  dataKey = key;
  phoneKey = await unwrapPhoneKey(key, withPhoneKey);
}

function randomMarker() {
  return { iv: crypto.getRandomValues(new Uint8Array(12)), ct: crypto.getRandomValues(new Uint8Array(MARKER_BYTES)) };
}

// Seconds the next try must wait (0: it may go now).
export async function secondsToWait() {
  const failures = (await db.getSetting("pinFailures")) || { count: 0, at: 0 };
  const due = failures.at + pinDelaySeconds(failures.count) * 1000;
  return Math.max(0, Math.ceil((due - Date.now()) / 1000));
}

// "open", "wrong" (counted), "wait" (too soon after the last wrong one), "wiped" (one wrong PIN too many),
// "duress" (the second PIN: everything sensitive is wiped, and the caller shows an empty app) or "locked"
// (a quick exit came while the PIN was being checked: nothing is opened).
export async function tryPin(pin) {
  const started = epoch;
  if ((await secondsToWait()) > 0) return "wait";
  const record = await db.getSetting("lock");
  let opened;
  try {
    opened = await tryVault(pin, record, record && record.duress);
  } catch (error) {
    if (!(error instanceof WrongPin)) throw error;
    const failures = (await db.getSetting("pinFailures")) || { count: 0, at: 0 };
    const count = failures.count + 1;
    if (count >= (await rules()).pin_failures) {
      await wipe();
      return "wiped";
    }
    await db.setSetting("pinFailures", { count, at: Date.now() });
    return "wrong";
  }
  if (opened.outcome === "duress") {
    await wipe();
    // The app goes on asking for a PIN, and this one goes on opening it (empty): nothing tells the wipe.
    const decoy = await createVault(pin, record.iterations);
    decoy.record.duress = randomMarker();
    await db.setSetting("lock", decoy.record);
    return "duress";
  }
  if (epoch !== started) return "locked";
  let current = record;
  if (!current.phone) {
    current = await addPhoneKey(opened.dataKey, record); // a vault made before the phone key existed
    await db.setSetting("lock", current);
  }
  const unwrapped = await unwrapPhoneKey(opened.dataKey, current);
  if (epoch !== started) return "locked";
  dataKey = opened.dataKey;
  phoneKey = unwrapped;
  await db.deleteSetting("pinFailures");
  return "open";
}

// Drafts, the vault and every readable setting go; undelivered sealed reports stay and keep syncing.
export async function wipe() {
  lockNow();
  await db.wipeSensitive(KEPT_BY_WIPE);
  await db.setSetting("wiped", true);
}

export async function wasWiped() {
  return Boolean(await db.getSetting("wiped"));
}
