// The only module that touches IndexedDB. Each function is one whole transaction: callers seal or fetch
// before and after, never inside one (a transaction closes when it waits on anything else).
// Names are neutral: a seized phone's storage lists a "local" database with "queue", "prefs", "pages", "parts"
// and "pieces".

const DB_NAME = "local";
const QUEUE = "queue"; // sealed envelopes waiting for the server
const PREFS = "prefs"; // settings; the sensitive ones are sealed to the phone's own key (kept.js)
const PAGES = "pages"; // drafts, sealed under the PIN's data key
// Attachment chunks sealed for the server (PROTOCOL.md §4), one small record each: Chrome on phones loses
// large IndexedDB values ("Failed to read large IndexedDB value").
const PARTS = "parts";
const PIECES = "pieces"; // a draft's recordings and photos, slice by slice, sealed under the PIN's data key

// Upgrade steps, one per old version, applied in order. A step may add; none may drop a store that can
// hold unsent reports.
const UPGRADES = [
  // 0 -> 1
  (db) => {
    db.createObjectStore(QUEUE, { keyPath: "rid" });
    db.createObjectStore(PREFS);
    db.createObjectStore(PAGES, { keyPath: "id" });
  },
  // 1 -> 2
  (db) => {
    db.createObjectStore(PARTS, { keyPath: ["aid", "i"] }).createIndex("rid", "rid");
    db.createObjectStore(PIECES, { keyPath: ["draft", "media", "n"] });
  },
];

// The database of earlier versions, under a name that said what the app is: moved here, then deleted. It is
// opened at a version none of them knows, so an old tab still open is closed out of it and cannot write
// there again (its next open fails), and nothing it saved is lost between the copy and the deletion.
const EARLIER = { name: "fieldapp", version: 3, stores: { outbox: QUEUE, settings: PREFS, drafts: PAGES } };
// What a phone wiped or given a new PIN since must not get back from an earlier copy.
const NOT_BROUGHT_BACK = ["lock", "pinFailures", "wiped"];

let opening = null;

function openDatabase(name, version, upgrade) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, version);
    request.onupgradeneeded = (event) => upgrade(request, event);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error("database upgrade blocked by another open tab"));
  });
}

function open() {
  if (!opening) {
    opening = openDatabase(DB_NAME, UPGRADES.length, (request, event) => {
      for (let version = event.oldVersion; version < UPGRADES.length; version++) UPGRADES[version](request.result);
    })
      .then(async (db) => {
        // Another tab (or a new app version) wants to upgrade: let it, and reopen on next use.
        db.onversionchange = () => {
          db.close();
          opening = null;
        };
        try {
          await moveEarlier(db);
        } catch {
          // Not now (a full disk, say): the earlier database keeps everything, and the next start tries again.
        }
        return db;
      })
      .catch((error) => {
        opening = null;
        throw error;
      });
  }
  return opening;
}

async function earlierExists() {
  if (indexedDB.databases) return (await indexedDB.databases()).some((info) => info.name === EARLIER.name);
  return true; // no list to look in: opening it tells, without creating it
}

function readAll(tx, names) {
  const copied = {};
  for (const name of names) {
    const store = tx.objectStore(name);
    const keys = store.getAllKeys();
    const values = store.getAll();
    values.onsuccess = () => (copied[name] = { keys: keys.result, values: values.result });
  }
  return copied;
}

// Everything the earlier database holds is copied across (nothing already here is overwritten, so a copy
// interrupted and done again changes nothing), and only then is it deleted: no report is lost on the way.
async function moveEarlier(db) {
  if (!(await earlierExists())) return;
  let copied = null;
  let earlier;
  try {
    earlier = await openDatabase(EARLIER.name, EARLIER.version, (request, event) => {
      if (event.oldVersion === 0) return request.transaction.abort(); // absent: stays absent
      const names = Object.keys(EARLIER.stores).filter((name) => request.result.objectStoreNames.contains(name));
      copied = readAll(request.transaction, names); // read in the upgrade itself: no tab writes meanwhile
    });
  } catch {
    return;
  }
  if (copied === null) {
    // Moved at this version before, and not deleted yet: read it as it is.
    const names = Object.keys(EARLIER.stores).filter((name) => earlier.objectStoreNames.contains(name));
    if (names.length) {
      await new Promise((resolve, reject) => {
        const tx = earlier.transaction(names, "readonly");
        copied = readAll(tx, names);
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
      });
    } else copied = {};
  }
  earlier.close();
  await copyInto(db, copied);
  await new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(EARLIER.name);
    request.onsuccess = request.onerror = request.onblocked = () => resolve();
  });
}

function copyInto(db, copied) {
  const names = Object.keys(copied);
  return new Promise((resolve, reject) => {
    if (!names.length) return resolve();
    const tx = db.transaction([...names.map((name) => EARLIER.stores[name]), PREFS], "readwrite");
    // A vault or a wipe here already: the phone has moved on, and the earlier PIN, drafts and flags stay out.
    requestValue(tx.objectStore(PREFS).getAllKeys()).then((present) => {
      const settled = present.includes("lock") || present.includes("wiped");
      for (const name of names) {
        if (settled && name === "drafts") continue;
        const store = tx.objectStore(EARLIER.stores[name]);
        const { keys, values } = copied[name];
        values.forEach((value, i) => {
          if (settled && name === "settings" && NOT_BROUGHT_BACK.includes(keys[i])) return;
          const request = store.keyPath !== null ? store.add(value) : store.add(value, keys[i]);
          request.onerror = (event) => {
            event.preventDefault(); // already here: the copy here wins
            event.stopPropagation();
          };
        });
      }
    });
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  });
}

function run(storeNames, mode, work) {
  return open().then(
    (db) =>
      new Promise((resolve, reject) => {
        const tx = db.transaction(storeNames, mode);
        let result;
        Promise.resolve(work(tx)).then((value) => (result = value), reject);
        tx.oncomplete = () => resolve(result);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
      }),
  );
}

function requestValue(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

// --- outbox: sealed envelopes only; nothing readable is ever stored here. `note` (the day it was saved) and
// a refusal's `error` come sealed to the phone's key (kept.js).

// Saving the same rid again (a double tap, a retry after an error) keeps the report already saved.
function queueEnvelope(tx, envelope, note) {
  const request = tx.objectStore(QUEUE).add({ rid: envelope.rid, envelope, note, state: "queued", error: null });
  request.onerror = (event) => {
    if (request.error && request.error.name === "ConstraintError") {
      event.preventDefault(); // the transaction goes on, and commits nothing new
      event.stopPropagation();
    }
  };
}

export function addToOutbox(envelope, note) {
  return run([QUEUE], "readwrite", (tx) => queueEnvelope(tx, envelope, note));
}

// Every key of a draft's pieces, or of one of its recordings or photos: [draft, media?, n] in key order.
function piecesRange(draftId, mediaId) {
  return mediaId === undefined
    ? IDBKeyRange.bound([draftId], [draftId, []])
    : IDBKeyRange.bound([draftId, mediaId], [draftId, mediaId, []]);
}

// A saved report, its attachments' chunks and the end of its draft are one transaction: one report, never
// zero, never two, never half its chunks. `parts`: [{ aid, i, c }] sealed for the server.
export function addToOutboxFromDraft(envelope, note, draftId, parts = []) {
  return run([QUEUE, PAGES, PARTS, PIECES], "readwrite", (tx) => {
    const queue = tx.objectStore(QUEUE);
    return requestValue(queue.getKey(envelope.rid)).then((saved) => {
      // Saved already (a double tap): its chunks were sealed under the key in its own envelope, and stay.
      if (saved === undefined) {
        queueEnvelope(tx, envelope, note);
        const store = tx.objectStore(PARTS);
        for (const part of parts) store.put({ aid: part.aid, i: part.i, rid: envelope.rid, c: part.c });
      }
      tx.objectStore(PAGES).delete(draftId);
      tx.objectStore(PIECES).delete(piecesRange(draftId));
    });
  });
}

export function outboxEntries() {
  return run([QUEUE], "readonly", (tx) => requestValue(tx.objectStore(QUEUE).getAll()));
}

// Reports and their chunks go together (delivered, or a refused one removed by the worker).
export function removeFromOutbox(rids) {
  return run([QUEUE, PARTS], "readwrite", (tx) => {
    const store = tx.objectStore(QUEUE);
    const parts = tx.objectStore(PARTS);
    for (const rid of rids) {
      store.delete(rid);
      requestValue(parts.index("rid").getAllKeys(rid)).then((keys) => keys.forEach((key) => parts.delete(key)));
    }
  });
}

// The server has these envelopes; their attachments' chunks may still be on their way (`sent`).
export function markSent(rids, sent = true, extra = {}) {
  return run([QUEUE], "readwrite", (tx) => {
    const store = tx.objectStore(QUEUE);
    for (const rid of rids) {
      requestValue(store.get(rid)).then((entry) => {
        if (entry) store.put({ ...entry, ...extra, sent });
      });
    }
  });
}

// One chunk sealed for the server: its ciphertext, or undefined when it is gone (the report was delivered).
export function getPart(aid, i) {
  return run([PARTS], "readonly", (tx) => requestValue(tx.objectStore(PARTS).get([aid, i]))).then((part) => part && part.c);
}

// --- a draft's recordings and photos: { draft, media, n, sealed: {iv, ct} } under the data key, slice by slice

export function putPiece(piece) {
  return run([PIECES], "readwrite", (tx) => {
    tx.objectStore(PIECES).put(piece);
  });
}

export function piecesOf(draftId) {
  return run([PIECES], "readonly", (tx) => requestValue(tx.objectStore(PIECES).getAll(piecesRange(draftId))));
}

export function deleteMedia(draftId, mediaId) {
  return run([PIECES], "readwrite", (tx) => {
    tx.objectStore(PIECES).delete(piecesRange(draftId, mediaId));
  });
}

// The drafts whose pieces are kept (a draft never written, its tab killed while recording, leaves pieces alone).
export function draftsWithPieces() {
  return run([PIECES], "readonly", (tx) =>
    requestValue(tx.objectStore(PIECES).getAllKeys()).then((keys) => [...new Set(keys.map((key) => key[0]))]),
  );
}

export function markRejected(rejections) {
  return run([QUEUE], "readwrite", (tx) => {
    const store = tx.objectStore(QUEUE);
    for (const { rid, error } of rejections) {
      requestValue(store.get(rid)).then((entry) => {
        if (entry) store.put({ ...entry, state: "rejected", error });
      });
    }
  });
}

// Refused reports back in the queue (after a new bootstrap); answers how many there were.
export function requeueRejected() {
  return run([QUEUE], "readwrite", (tx) => {
    const store = tx.objectStore(QUEUE);
    return requestValue(store.getAll()).then((entries) => {
      const rejected = entries.filter((e) => e.state === "rejected");
      for (const entry of rejected) store.put({ ...entry, state: "queued", error: null });
      return rejected.length;
    });
  });
}

// --- settings: in the clear only what a locked phone needs (device token, vault record, look, language);
// the rest (bootstrap, team, catalog, last sync) sealed by kept.js

export function getSetting(key) {
  return run([PREFS], "readonly", (tx) => requestValue(tx.objectStore(PREFS).get(key)));
}

export function setSetting(key, value) {
  return run([PREFS], "readwrite", (tx) => {
    tx.objectStore(PREFS).put(value, key);
  });
}

export function deleteSetting(key) {
  return run([PREFS], "readwrite", (tx) => {
    tx.objectStore(PREFS).delete(key);
  });
}

// Every setting named `<prefix>…` but `kept` (an update drops the screens sealed for earlier versions).
export function deleteSettingsLike(prefix, kept) {
  return run([PREFS], "readwrite", (tx) => {
    const settings = tx.objectStore(PREFS);
    return requestValue(settings.getAllKeys()).then((keys) => {
      for (const key of keys) if (typeof key === "string" && key.startsWith(prefix) && key !== kept) settings.delete(key);
    });
  });
}

// --- drafts: { id, sealed: {iv, ct} under the data key, rid it will be saved as, updatedAt, expiresAt }

export function putDraft(draft) {
  return run([PAGES], "readwrite", (tx) => {
    tx.objectStore(PAGES).put(draft);
  });
}

export function draftEntries() {
  return run([PAGES], "readonly", (tx) => requestValue(tx.objectStore(PAGES).getAll()));
}

// A draft goes with its recordings and photos.
export function deleteDrafts(ids) {
  return run([PAGES, PIECES], "readwrite", (tx) => {
    const store = tx.objectStore(PAGES);
    const pieces = tx.objectStore(PIECES);
    for (const id of ids) {
      store.delete(id);
      pieces.delete(piecesRange(id));
    }
  });
}

// Drafts and every setting but those named are gone; the sealed outbox stays, so that no report is lost.
export function wipeSensitive(keptSettings) {
  return run([PAGES, PIECES, PREFS], "readwrite", (tx) => {
    tx.objectStore(PAGES).clear();
    tx.objectStore(PIECES).clear();
    const settings = tx.objectStore(PREFS);
    return requestValue(settings.getAllKeys()).then((keys) => {
      for (const key of keys) if (!keptSettings.includes(key)) settings.delete(key);
    });
  });
}

// Notes and reasons sealed afresh for entries still queued (those saved by earlier versions in the clear).
export function setOutboxNotes(notes) {
  return run([QUEUE], "readwrite", (tx) => {
    const store = tx.objectStore(QUEUE);
    for (const { rid, note, error } of notes) {
      requestValue(store.get(rid)).then((entry) => {
        if (!entry) return; // delivered meanwhile
        const { savedOn, ...rest } = entry;
        store.put({ ...rest, note, error });
      });
    }
  });
}
