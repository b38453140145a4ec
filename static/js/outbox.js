// The outbox: sends sealed reports and forgets each one only once the server has it. No DOM here; the
// page listens to its events. Storage and network come in as arguments (db.js and api.js in the app).

const MAX_BATCH_REPORTS = 100; // docs/PROTOCOL.md §5
const MAX_BATCH_BYTES = 3.5 * 1024 * 1024; // under the 4 MiB body limit, with room for the wrapper

// Envelopes in order, cut into batches that respect both limits (a lone oversized one goes alone).
export function batchesOf(entries) {
  const batches = [];
  let batch = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = JSON.stringify(entry.envelope).length + 1;
    if (batch.length && (batch.length >= MAX_BATCH_REPORTS || bytes + size > MAX_BATCH_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(entry);
    bytes += size;
  }
  if (batch.length) batches.push(batch);
  return batches;
}

// Today's date where the phone is (dates shown to the worker are local, not UTC).
export function localDate() {
  const now = new Date();
  return new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

export function createOutbox({
  store, // { outboxEntries, removeFromOutbox, markRejected, getSetting, setSetting }
  api, // { postReports, ApiError, NetworkError }
  today = localDate,
  backoffBaseMs = 2000,
  backoffMaxMs = 5 * 60 * 1000,
  periodMs = 60 * 1000,
  timers = globalThis,
}) {
  const events = new EventTarget();
  let draining = null;
  let failures = 0;
  let retryTimer = null;
  let periodicTimer = null;
  let disconnected = false;

  const emit = (type, detail = {}) => events.dispatchEvent(new CustomEvent(type, { detail }));

  function scheduleRetry() {
    timers.clearTimeout(retryTimer);
    // Exponential, capped, with jitter so that phones coming back together do not arrive together.
    const delay = Math.min(backoffMaxMs, backoffBaseMs * 2 ** Math.min(failures - 1, 16));
    retryTimer = timers.setTimeout(() => drain(), delay * (0.75 + Math.random() * 0.5));
    emit("retry", { inMs: delay, failures });
  }

  async function sendAll() {
    const token = await store.getSetting("deviceToken");
    if (!token || disconnected) return;
    const queued = (await store.outboxEntries()).filter((e) => e.state === "queued");
    if (!queued.length) {
      emit("idle");
      return;
    }
    let sent = 0;
    emit("progress", { sent, total: queued.length });
    for (const batch of batchesOf(queued)) {
      const answer = await api.postReports(token, batch.map((e) => e.envelope));
      const results = answer && Array.isArray(answer.results) ? answer.results : [];
      // Results come in the order sent; an answer that does not match the batch deletes nothing.
      if (results.length !== batch.length || results.some((r, i) => r.rid !== null && r.rid !== batch[i].rid)) {
        throw new Error("the answer does not match the batch sent");
      }
      const delivered = [];
      const rejected = [];
      results.forEach((result, index) => {
        const rid = batch[index].rid;
        if (result.status === "stored" || result.status === "duplicate") delivered.push(rid);
        else rejected.push({ rid, error: result.error || "" }); // the page words a missing reason
      });
      await store.removeFromOutbox(delivered);
      if (rejected.length) await store.markRejected(rejected);
      sent += batch.length;
      emit("progress", { sent, total: queued.length });
    }
    await store.setSetting("lastSync", today());
    emit("synced", { sent });
  }

  // Send everything queued; one drain at a time (a second call joins the one running).
  function drain() {
    if (draining) return draining;
    timers.clearTimeout(retryTimer);
    draining = sendAll()
      .then(() => {
        failures = 0;
      })
      .catch((error) => {
        if (error instanceof api.ApiError && error.status === 401) {
          // The phone was revoked: keep every report, stop trying, tell the worker.
          disconnected = true;
          emit("disconnected", { message: error.message });
          return;
        }
        failures += 1; // 5xx, 429, network, timeout: nothing was deleted, try again later
        emit("failed", { status: error.status || 0, message: error.message });
        scheduleRetry();
      })
      .finally(() => {
        draining = null;
      });
    return draining;
  }

  return {
    events,
    drain,
    // One attempt that rejects on failure (for Background Sync, which then retries by itself).
    attempt: sendAll,
    // The network came back: forget the backoff and send now.
    online() {
      failures = 0;
      return drain();
    },
    // Enrolled again after a disconnection.
    reconnected() {
      disconnected = false;
      failures = 0;
      return drain();
    },
    start() {
      // While failing, the backoff decides when to try; otherwise look for new reports now and then.
      periodicTimer = timers.setInterval(() => failures === 0 && drain(), periodMs);
      return drain();
    },
    stop() {
      timers.clearInterval(periodicTimer);
      timers.clearTimeout(retryTimer);
    },
  };
}
