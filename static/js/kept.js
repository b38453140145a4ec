// What the phone keeps sealed to its own key (vault.js): written whether locked or not, read only unlocked,
// so a locked phone's storage holds no form, team, words or dates in the clear. No DOM.

import * as db from "./db.js";
import { openPhoneKey, phonePublicKey } from "./lock.js";
import { openFromPhone, sealToPhone } from "./vault.js";

// Kept before a PIN exists (just after enrolment): in memory only, sealed onto storage by flush().
const unsealed = new Map();
// The outbox's notes once opened, while unlocked: the home screen is drawn at every step of a sync, and one
// ECDH per queued report each time would cost a cheap phone seconds.
const openedNotes = new Map();

export async function seal(name, value) {
  const pub = await phonePublicKey();
  return pub ? sealToPhone(pub, name, value) : null;
}

// The value, or null: locked, never kept, or sealed to an earlier phone key (before a re-enrolment).
export async function open(name, sealed) {
  const key = openPhoneKey();
  if (!key || !sealed || !sealed.epk) return null;
  try {
    return await openFromPhone(key, await phonePublicKey(), name, sealed);
  } catch {
    return null;
  }
}

export async function keep(name, value) {
  const sealed = await seal(name, value);
  if (!sealed) {
    unsealed.set(name, value);
    return;
  }
  unsealed.delete(name);
  await db.setSetting(name, sealed);
}

export async function read(name) {
  if (unsealed.has(name)) return unsealed.get(name);
  return open(name, await db.getSetting(name));
}

// The PIN exists now: what was held in memory goes to storage, sealed.
export async function flush() {
  for (const [name, value] of [...unsealed]) await keep(name, value);
}

export function forget() {
  unsealed.clear();
  openedNotes.clear();
}

// A sealed value is never changed in place (each sealing has its own IV), so its IV names it.
async function openNote(name, sealed) {
  if (!sealed || !sealed.iv) return null;
  const id = `${name}|${Array.from(sealed.iv).join(".")}`;
  if (openedNotes.has(id)) return openedNotes.get(id);
  const value = await open(name, sealed);
  if (value !== null) openedNotes.set(id, value);
  return value;
}

// The outbox's storage (outbox.js): the day of a sync and a refusal's reason are sealed like the rest.
export const outboxStore = {
  outboxEntries: () => db.outboxEntries(),
  removeFromOutbox: (rids) => db.removeFromOutbox(rids),
  markSent: (rids, sent, extra) => db.markSent(rids, sent, extra),
  getPart: (aid, i) => db.getPart(aid, i),
  requeueRejected: () => db.requeueRejected(),
  getSetting: (name) => db.getSetting(name),
  async markRejected(rejections) {
    const sealed = [];
    for (const { rid, error } of rejections) sealed.push({ rid, error: await seal(`refusal|${rid}`, error) });
    return db.markRejected(sealed);
  },
  noteSync: (date) => keep("lastSync", date),
};

// A saved report's note (the day it was saved, and what each attachment is: {aid: "audio" | "photo"}), and
// the reason a refused one was refused.
export const savedNote = (rid, savedOn, kinds = {}) => seal(`saved|${rid}`, { savedOn, kinds });
export async function openEntry(entry) {
  const note = await openNote(`saved|${entry.rid}`, entry.note);
  const error = entry.error && entry.error.epk ? await openNote(`refusal|${entry.rid}`, entry.error) : null;
  return { ...entry, savedOn: note ? note.savedOn : null, kinds: (note && note.kinds) || {}, error };
}

// Settings sealed by kept.js; earlier versions kept them in the clear.
const SEALED_SETTINGS = ["bootstrap", "team", "lastSync", "catalogs"];

// What earlier versions left readable (settings, the outbox's dates and reasons) is sealed now, once the
// phone has its key: a locked phone needs only the public half for this.
export async function sealLeftovers() {
  if (!(await phonePublicKey())) return;
  for (const name of SEALED_SETTINGS) {
    const value = await db.getSetting(name);
    if (value !== undefined && !(value && value.epk)) await keep(name, value);
  }
  const notes = [];
  for (const entry of await db.outboxEntries()) {
    const plainError = typeof entry.error === "string";
    if (entry.savedOn === undefined && !plainError) continue;
    notes.push({
      rid: entry.rid,
      note: entry.savedOn !== undefined ? await savedNote(entry.rid, entry.savedOn) : entry.note,
      error: plainError ? await seal(`refusal|${entry.rid}`, entry.error) : entry.error,
    });
  }
  if (notes.length) await db.setOutboxNotes(notes);
}
