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

// The drafts that can be resumed, newest first ({ rid, content, expiresAt }); expired ones are wiped first,
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
      opened.push({ rid: draft.id, content: await openDraft(key, draft.id, draft.sealed), expiresAt: draft.expiresAt });
    } catch {
      gone.push(draft.id);
    }
  }
  if (gone.length) await db.deleteDrafts(gone);
  return opened.sort((a, b) => b.expiresAt - a.expiresAt);
}
