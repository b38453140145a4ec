// The only module that touches IndexedDB. Each function is one whole transaction: callers seal or fetch
// before and after, never inside one (a transaction closes when it waits on anything else).

const DB_NAME = "fieldapp";

// Upgrade steps, one per old version, applied in order. A step may add; none may drop a store that can
// hold unsent reports.
const UPGRADES = [
  // 0 -> 1
  (db) => {
    db.createObjectStore("outbox", { keyPath: "rid" });
    db.createObjectStore("settings");
  },
  // 1 -> 2: drafts, each sealed under the PIN's data key (vault.js); nothing readable is stored here either
  (db) => {
    db.createObjectStore("drafts", { keyPath: "id" });
  },
];

let opening = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, UPGRADES.length);
      request.onupgradeneeded = (event) => {
        for (let version = event.oldVersion; version < UPGRADES.length; version++) UPGRADES[version](request.result);
      };
      request.onsuccess = () => {
        const db = request.result;
        // Another tab (or a new app version) wants to upgrade: let it, and reopen on next use.
        db.onversionchange = () => {
          db.close();
          opening = null;
        };
        resolve(db);
      };
      request.onerror = () => {
        opening = null;
        reject(request.error);
      };
      request.onblocked = () => reject(new Error("database upgrade blocked by another open tab"));
    });
  }
  return opening;
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

// --- outbox: sealed envelopes only; nothing readable is ever stored here

// Saving the same rid again (a double tap, a retry after an error) keeps the report already saved.
function queueEnvelope(tx, envelope, savedOn) {
  const request = tx.objectStore("outbox").add({ rid: envelope.rid, envelope, savedOn, state: "queued", error: null });
  request.onerror = (event) => {
    if (request.error && request.error.name === "ConstraintError") {
      event.preventDefault(); // the transaction goes on, and commits nothing new
      event.stopPropagation();
    }
  };
}

export function addToOutbox(envelope, savedOn) {
  return run(["outbox"], "readwrite", (tx) => queueEnvelope(tx, envelope, savedOn));
}

// A saved report and the end of its draft are one transaction: one report, never zero, never two.
export function addToOutboxFromDraft(envelope, savedOn, draftId) {
  return run(["outbox", "drafts"], "readwrite", (tx) => {
    queueEnvelope(tx, envelope, savedOn); // saved already (a double tap): the draft still ends
    tx.objectStore("drafts").delete(draftId);
  });
}

export function outboxEntries() {
  return run(["outbox"], "readonly", (tx) => requestValue(tx.objectStore("outbox").getAll()));
}

export function removeFromOutbox(rids) {
  return run(["outbox"], "readwrite", (tx) => {
    const store = tx.objectStore("outbox");
    for (const rid of rids) store.delete(rid);
  });
}

export function markRejected(rejections) {
  return run(["outbox"], "readwrite", (tx) => {
    const store = tx.objectStore("outbox");
    for (const { rid, error } of rejections) {
      requestValue(store.get(rid)).then((entry) => {
        if (entry) store.put({ ...entry, state: "rejected", error });
      });
    }
  });
}

// Refused reports back in the queue (after a new bootstrap); answers how many there were.
export function requeueRejected() {
  return run(["outbox"], "readwrite", (tx) => {
    const store = tx.objectStore("outbox");
    return requestValue(store.getAll()).then((entries) => {
      const rejected = entries.filter((e) => e.state === "rejected");
      for (const entry of rejected) store.put({ ...entry, state: "queued", error: null });
      return rejected.length;
    });
  });
}

// --- settings: device token, bootstrap data (keys, forms, locales), last sync date, chosen language

export function getSetting(key) {
  return run(["settings"], "readonly", (tx) => requestValue(tx.objectStore("settings").get(key)));
}

export function setSetting(key, value) {
  return run(["settings"], "readwrite", (tx) => {
    tx.objectStore("settings").put(value, key);
  });
}

export function deleteSetting(key) {
  return run(["settings"], "readwrite", (tx) => {
    tx.objectStore("settings").delete(key);
  });
}

// --- drafts: { id, sealed: {iv, ct} under the data key, rid it will be saved as, updatedAt, expiresAt }

export function putDraft(draft) {
  return run(["drafts"], "readwrite", (tx) => {
    tx.objectStore("drafts").put(draft);
  });
}

export function draftEntries() {
  return run(["drafts"], "readonly", (tx) => requestValue(tx.objectStore("drafts").getAll()));
}

export function deleteDrafts(ids) {
  return run(["drafts"], "readwrite", (tx) => {
    const store = tx.objectStore("drafts");
    for (const id of ids) store.delete(id);
  });
}

// Drafts and every setting but those named are gone; the sealed outbox stays, so that no report is lost.
export function wipeSensitive(keptSettings) {
  return run(["drafts", "settings"], "readwrite", (tx) => {
    tx.objectStore("drafts").clear();
    const settings = tx.objectStore("settings");
    return requestValue(settings.getAllKeys()).then((keys) => {
      for (const key of keys) if (!keptSettings.includes(key)) settings.delete(key);
    });
  });
}
