// Drafts of reports being written: sealed under the PIN's data key before they reach storage, resumed after
// the PIN, ended by saving (in the outbox's own transaction) or discarding, and wiped once expired. No DOM.

import * as db from "./db.js";
import { openKey } from "./lock.js";
import { openDraft, sealDraft } from "./vault.js";

export const DRAFT_HOURS = 72;
export const SAVE_DELAY_MS = 500; // every change is on storage within a second

// `content`: { answers, quick }. The draft's id is the rid its report will be saved with, so that a draft
// saved twice (a double tap, a resumed copy) is still one report.
export async function keepDraft(rid, content, createdAt) {
  const key = openKey();
  if (!key) return; // locked meanwhile: what is on screen is dropped with the key
  const sealed = await sealDraft(key, rid, content);
  await db.putDraft({ id: rid, sealed, expiresAt: createdAt + DRAFT_HOURS * 3600 * 1000 });
}

export function discardDraft(rid) {
  return db.deleteDrafts([rid]);
}

// The drafts that can be resumed, newest first ({ rid, content, expiresAt }); expired ones are wiped first.
export async function openDrafts() {
  await wipeExpiredDrafts();
  const key = openKey();
  if (!key) return [];
  const opened = [];
  for (const draft of await db.draftEntries()) {
    try {
      opened.push({ rid: draft.id, content: await openDraft(key, draft.id, draft.sealed), expiresAt: draft.expiresAt });
    } catch {
      // sealed under an earlier PIN's key (the phone was re-enrolled): it cannot be read, so it goes
      await db.deleteDrafts([draft.id]);
    }
  }
  return opened.sort((a, b) => b.expiresAt - a.expiresAt);
}

export async function wipeExpiredDrafts(now = Date.now()) {
  const expired = (await db.draftEntries()).filter((draft) => !(draft.expiresAt > now)).map((draft) => draft.id);
  if (expired.length) await db.deleteDrafts(expired);
}
