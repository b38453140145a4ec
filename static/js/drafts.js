// Drafts of reports being written: sealed under the PIN's data key before they reach storage, resumed after
// the PIN, ended by saving (in the outbox's own transaction) or discarding, and wiped once expired. No DOM.

import * as db from "./db.js";
import { openKey, rules, wasWiped } from "./lock.js";
import { openDraft, sealDraft } from "./vault.js";

export const SAVE_DELAY_MS = 500; // every change is on storage within a second

// How long a draft lives, as the organisation set it (72 hours unless told otherwise).
export async function draftHours() {
  return (await rules()).draft_hours;
}

// `content`: { answers, quick }. The draft's id is the rid its report will be saved with, so that a draft
// saved twice (a double tap, a resumed copy) is still one report. Only the expiry is in the clear, so that
// the phone wipes it in time without the PIN (at start and in background syncs: wipeExpiredDrafts).
export async function keepDraft(rid, content, createdAt) {
  const key = openKey();
  if (!key) return; // locked meanwhile: what is on screen is dropped with the key
  const sealed = await sealDraft(key, rid, { ...content, createdAt });
  const hours = await draftHours();
  // Locked meanwhile, it is still kept (its answers were read before the keys went); wiped, it is not.
  if (!(await wasWiped())) await db.putDraft({ id: rid, sealed, expiresAt: roundedUp(createdAt + hours * 3600 * 1000) });
}

// To the next hour: the expiry in the clear must not tell when an interview began.
function roundedUp(time) {
  const hour = 3600 * 1000;
  return Math.ceil(time / hour) * hour;
}

export function discardDraft(rid) {
  return db.deleteDrafts([rid]);
}

// The drafts that can be resumed, newest first ({ rid, content, createdAt, expiresAt }); expired ones are wiped first,
// and so are those that no longer open (sealed under an earlier PIN's key, before a re-enrolment).
export async function openDrafts(now = Date.now()) {
  const key = openKey();
  const opened = [];
  const gone = [];
  for (const draft of await db.draftEntries()) {
    if (!(draft.expiresAt > now)) {
      gone.push(draft.id);
      continue;
    }
    if (!key) continue;
    try {
      const content = await openDraft(key, draft.id, draft.sealed);
      const createdAt = Number.isFinite(content.createdAt) ? content.createdAt : draft.expiresAt - 72 * 3600 * 1000;
      opened.push({ rid: draft.id, content, createdAt, expiresAt: draft.expiresAt });
    } catch {
      gone.push(draft.id);
    }
  }
  if (gone.length) await db.deleteDrafts(gone);
  return opened.sort((a, b) => b.createdAt - a.createdAt);
}

// Expired drafts go even while the phone is locked: their expiry is all that is readable of them. So do
// recordings and photos left without a draft (a tab killed before its draft was first written).
export async function wipeExpiredDrafts(now = Date.now()) {
  const drafts = await db.draftEntries();
  const expired = drafts.filter((draft) => !(draft.expiresAt > now)).map((draft) => draft.id);
  const known = new Set(drafts.map((draft) => draft.id));
  const orphans = (await db.draftsWithPieces()).filter((id) => !known.has(id));
  if (expired.length || orphans.length) await db.deleteDrafts([...expired, ...orphans]);
}
