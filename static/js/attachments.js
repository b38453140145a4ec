// A report's recordings and photos: kept slice by slice with its draft, sealed under the PIN's data key as
// they are made, and at save sealed for the server (PROTOCOL.md §4) under a key of their own. No DOM.

import { b64uEncode, concat, sealChunks, sha256 } from "./crypto.js";
import * as db from "./db.js";
import { openPiece, sealPiece } from "./vault.js";

const HEADER = -1; // the piece that says what a media is; its bytes are numbered from 0
const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const PIECE_BYTES = 256 * 1024; // a photo is kept in small pieces (Chrome loses large IndexedDB values)

// Without a data key (none yet, or locked meanwhile) nothing reaches storage: what is recorded stays in memory.
const unsealed = new Map(); // `${draft}|${media}` -> { header, pieces: Map(n -> bytes) }
// Each media's SHA-256, made when the form lists it so that saving waits for the AES alone. Keyed by its
// length too: a media only ever grows (slices are added, none replaced), so a new length is a new digest.
const digests = new Map(); // `${draft}|${media}` -> { length, digest: Promise<Uint8Array> }

function digestOf(draftId, item) {
  const name = `${draftId}|${item.id}`;
  const known = digests.get(name);
  if (known && known.length === item.bytes.length) return known.digest;
  const digest = sha256(item.bytes);
  digests.set(name, { length: item.bytes.length, digest });
  digest.catch(() => digests.get(name)?.digest === digest && digests.delete(name)); // not a newer one
  return digest;
}

// The form listed these media: their digests are made now, while the worker is still writing.
export function prepareDigests(draftId, media) {
  for (const item of media) digestOf(draftId, item).catch(() => null);
}

function memoryOf(draftId, mediaId) {
  const name = `${draftId}|${mediaId}`;
  if (!unsealed.has(name)) unsealed.set(name, { header: null, pieces: new Map() });
  return unsealed.get(name);
}

async function keepPiece(key, draftId, mediaId, n, bytes) {
  if (!key) {
    const memory = memoryOf(draftId, mediaId);
    if (n === HEADER) memory.header = bytes;
    else memory.pieces.set(n, bytes);
    return;
  }
  const sealed = await sealPiece(key, draftId, mediaId, n, bytes);
  await db.putPiece({ draft: draftId, media: mediaId, n, sealed });
}

// What a media is: { kind: "audio" | "photo", mime, createdAt, durationMs? }; kept again when it changes.
export function keepHeader(key, draftId, mediaId, header) {
  return keepPiece(key, draftId, mediaId, HEADER, encoder.encode(JSON.stringify(header)));
}

// Slice n of a recording, kept the moment it is made.
export function keepSlice(key, draftId, mediaId, n, bytes) {
  return keepPiece(key, draftId, mediaId, n, bytes);
}

// A whole file (a photo, or a recording chosen from the phone's files), kept in small pieces.
export async function keepFile(key, draftId, mediaId, header, bytes) {
  await keepHeader(key, draftId, mediaId, header);
  for (let n = 0; n * PIECE_BYTES < bytes.length || n === 0; n++) {
    await keepSlice(key, draftId, mediaId, n, bytes.subarray(n * PIECE_BYTES, (n + 1) * PIECE_BYTES));
  }
}

// A draft's recordings and photos, oldest first: [{ id, kind, mime, createdAt, durationMs, bytes }]. A piece
// that does not open (sealed under an earlier PIN's key) leaves its media out; a recording cut off mid-way
// (the tab was killed) keeps every slice it had.
export async function draftMedia(key, draftId) {
  const found = new Map();
  const add = (mediaId) => {
    if (!found.has(mediaId)) found.set(mediaId, { header: null, pieces: new Map(), broken: false });
    return found.get(mediaId);
  };
  if (key) {
    for (const piece of await db.piecesOf(draftId)) {
      const media = add(piece.media);
      try {
        const bytes = await openPiece(key, draftId, piece.media, piece.n, piece.sealed);
        if (piece.n === HEADER) media.header = bytes;
        else media.pieces.set(piece.n, bytes);
      } catch {
        media.broken = true;
      }
    }
  }
  for (const [name, memory] of unsealed) {
    const [draft, mediaId] = name.split("|");
    if (draft !== draftId) continue;
    const media = add(mediaId);
    if (memory.header) media.header = memory.header;
    for (const [n, bytes] of memory.pieces) media.pieces.set(n, bytes);
  }
  const list = [];
  for (const [id, media] of found) {
    if (media.broken || !media.header || !media.pieces.size) continue;
    let header;
    try {
      header = JSON.parse(decoder.decode(media.header));
    } catch {
      continue;
    }
    const order = [...media.pieces.keys()].sort((a, b) => a - b);
    const bytes = concat(...order.map((n) => media.pieces.get(n)));
    list.push({ id, kind: header.kind, mime: header.mime, createdAt: header.createdAt || 0, durationMs: header.durationMs || null, bytes });
  }
  return list.sort((a, b) => a.createdAt - b.createdAt);
}

export async function dropMedia(draftId, mediaId) {
  unsealed.delete(`${draftId}|${mediaId}`);
  digests.delete(`${draftId}|${mediaId}`);
  await db.deleteMedia(draftId, mediaId);
}

// What memory held for a draft is gone (saved, discarded or locked).
export function forgetDraft(draftId) {
  for (const map of [unsealed, digests]) {
    for (const name of [...map.keys()]) if (name.startsWith(`${draftId}|`)) map.delete(name);
  }
}

// The media sealed for the server, each under a fresh random key: the document's entries (which carry the
// keys, and go only inside the sealed report), the envelope's `att` and the chunks to store, in version `v`.
export async function sealForServer(draftId, media, v) {
  const entries = [];
  const att = [];
  const parts = [];
  for (const item of media) {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const chunks = await sealChunks(key, item.id, item.bytes, v);
    const entry = {
      aid: item.id,
      kind: item.kind,
      mime: item.mime,
      size: item.bytes.length,
      chunks: chunks.length,
      key: b64uEncode(key),
      sha256: b64uEncode(await digestOf(draftId, item)),
    };
    if (item.kind === "audio" && Number.isFinite(item.durationMs)) entry.duration_ms = Math.round(item.durationMs);
    entries.push(entry);
    att.push({ aid: item.id, chunks: chunks.length });
    chunks.forEach((c, i) => parts.push({ aid: item.id, i, c }));
    key.fill(0);
  }
  return { entries, att, parts };
}
