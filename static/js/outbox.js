// The outbox: sends sealed reports and forgets each one only once the server has it. No DOM here; the
// page listens to its events. Storage and network come in as arguments (db.js and api.js in the app).

const MAX_BATCH_REPORTS = 100; // docs/PROTOCOL.md §5
// Well under the 4 MiB body limit: at the slowest link's 2 KB/s a batch crosses within its upload timeout
// (api.js), and a cut costs one small batch, not everything.
const MAX_BATCH_BYTES = 512 * 1024;
const CHUNK_BYTES_PER_MS = 2.5; // 20 kbit/s, a 2G uplink: a v2 chunk's answer is overdue after 8 s + 26 s

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

// The server answered, but not in words the phone can trust (a middlebox, a cut body): nothing is decided.
export class UnreadableAnswer extends Error {}

// What the answer says of each report sent: "delivered", "rejected" (with its reason) or nothing at all.
// Only an explicit result naming the report's own rid counts; anything else leaves the report queued.
export function verdicts(answer, batch) {
  const results = answer && Array.isArray(answer.results) ? answer.results : [];
  const byRid = new Map();
  for (const result of results) {
    if (!result || typeof result !== "object" || typeof result.rid !== "string") continue;
    const seen = byRid.get(result.rid);
    // The same rid answered twice in two ways is not an answer.
    byRid.set(result.rid, seen && seen.status !== result.status ? { status: "contradictory" } : result);
  }
  return batch.map((entry) => {
    const result = byRid.get(entry.rid);
    if (!result) return { rid: entry.rid, verdict: null };
    if (result.status === "stored" || result.status === "duplicate") return { rid: entry.rid, verdict: "delivered" };
    if (result.status === "rejected") {
      const error = typeof result.error === "string" ? result.error : ""; // the page words a missing reason
      return { rid: entry.rid, verdict: "rejected", error };
    }
    return { rid: entry.rid, verdict: null };
  });
}

// Why a drain failed, for the page to word: "offline", "busy" (5xx, 429), "unreadable" or "refused".
function failureKind(error, api) {
  if (error instanceof UnreadableAnswer) return "unreadable";
  if (!(error instanceof api.ApiError)) return "offline";
  return error.status >= 500 || error.status === 429 ? "busy" : "refused";
}

export function createOutbox({
  store, // { outboxEntries, removeFromOutbox, markSent, getPart, markRejected, requeueRejected, getSetting, noteSync }
  api, // { postReports, attachmentStatus, putChunk, ApiError, NetworkError }
  today = localDate,
  backoffBaseMs = 2000,
  backoffMaxMs = 5 * 60 * 1000,
  periodMs = 60 * 1000,
  stallAfterMs = 8000, // an answer this late is offered to be given up on ("Enviar ahora")
  onlineGraceMs = 5000, // just after `online` the link is often still coming up: retry soon, not late
  quickRetryMs = 300,
  timers = globalThis,
  now = () => Date.now(),
}) {
  const events = new EventTarget();
  let draining = null;
  let abandon = null; // aborts the drain running now
  let drainAgain = false; // something new was asked of the outbox while it was busy
  let failures = 0;
  let retryTimer = null;
  let periodicTimer = null;
  let disconnected = false;
  let stalled = false;
  let onlineAt = -Infinity;

  const emit = (type, detail = {}) => events.dispatchEvent(new CustomEvent(type, { detail }));

  function scheduleRetry(soon) {
    timers.clearTimeout(retryTimer);
    // Exponential, capped, with jitter so that phones coming back together do not arrive together.
    const backoff = Math.min(backoffMaxMs, backoffBaseMs * 2 ** Math.min(failures - 1, 16));
    const delay = soon ? quickRetryMs : backoff * (0.75 + Math.random() * 0.5);
    retryTimer = timers.setTimeout(() => drain(), delay);
    emit("retry", { inMs: delay, failures });
  }

  // Every request of a drain: an answer overdue is offered to be given up on, a chunk's as a batch's. A
  // chunk's answer is overdue only once its body could have crossed a 20 kbit/s uplink.
  async function watched(request, bodyBytes = 0) {
    const stallTimer = timers.setTimeout(() => {
      stalled = true;
      emit("stalled");
    }, stallAfterMs + bodyBytes / CHUNK_BYTES_PER_MS);
    try {
      return await request();
    } finally {
      timers.clearTimeout(stallTimer);
      stalled = false;
    }
  }

  // Reports whose envelope the server has still wait here for their attachments' chunks.
  const hasAttachments = (entry) => Array.isArray(entry.envelope.att) && entry.envelope.att.length > 0;
  const envelopesToSend = (entries) => entries.filter((e) => e.state === "queued" && !e.sent);

  // Every envelope not yet sent, batch by batch; answers how many reports left the outbox and how many
  // the server did not answer for.
  async function sendEnvelopes(token, queued, signal, counts) {
    let done = 0;
    emit("progress", { sent: done, total: queued.length });
    for (const batch of batchesOf(queued)) {
      if (signal.aborted) throw new api.NetworkError("abandoned");
      const answer = await watched(() => api.postReports(token, batch.map((e) => e.envelope), { signal }));
      const outcome = verdicts(answer, batch);
      const byRid = new Map(batch.map((entry) => [entry.rid, entry]));
      const delivered = outcome.filter((o) => o.verdict === "delivered").map((o) => byRid.get(o.rid));
      const rejected = outcome.filter((o) => o.verdict === "rejected").map(({ rid, error }) => ({ rid, error }));
      const whole = delivered.filter((entry) => !hasAttachments(entry)).map((entry) => entry.rid);
      const awaitingChunks = delivered.filter(hasAttachments).map((entry) => entry.rid);
      await store.removeFromOutbox(whole);
      if (awaitingChunks.length) await store.markSent(awaitingChunks);
      if (rejected.length) await store.markRejected(rejected);
      counts.delivered += whole.length;
      counts.unanswered += outcome.filter((o) => o.verdict === null).length;
      done += batch.length;
      emit("progress", { sent: done, total: queued.length });
    }
  }

  // The chunks the server lacks, one at a time, asking first what it has (PROTOCOL.md §5): after a cut,
  // only what did not arrive travels again. Answers "done", "gone" (removed meanwhile) or "refused".
  async function sendChunks(token, entry, signal, counts) {
    const attachments = entry.envelope.att;
    for (const [position, { aid, chunks }] of attachments.entries()) {
      let answer;
      try {
        answer = await watched(() => api.attachmentStatus(token, aid, { signal }));
      } catch (error) {
        if (!(error instanceof api.ApiError) || error.status !== 404) throw error;
        // The server does not know it: its envelope is sent again (a restored server); twice unknown, refused.
        if (entry.unknownTo) {
          await store.markRejected([{ rid: entry.rid, error: error.message }]);
          return "refused";
        }
        await store.markSent([entry.rid], false, { unknownTo: true });
        drainAgain = true;
        return "refused";
      }
      const received = new Set(Array.isArray(answer.received) ? answer.received.filter(Number.isInteger) : []);
      for (let i = 0; i < chunks; i++) {
        if (received.has(i)) continue;
        if (signal.aborted) throw new api.NetworkError("abandoned");
        // A report saved meanwhile goes first: none waits behind a long recording.
        const waiting = envelopesToSend(await store.outboxEntries());
        if (waiting.length) await sendEnvelopes(token, waiting, signal, counts);
        const bytes = await store.getPart(aid, i);
        if (!bytes) return "gone";
        emit("progress", { part: { rid: entry.rid, aid, attachment: position + 1, attachments: attachments.length, index: received.size + 1, chunks } });
        try {
          await watched(() => api.putChunk(token, aid, i, bytes, { signal }), bytes.length);
        } catch (error) {
          // 409, 413, 415, 422: the server will never take this chunk as it is; kept, and shown as refused.
          if (error instanceof api.ApiError && error.status < 500 && ![401, 408, 429].includes(error.status)) {
            await store.markRejected([{ rid: entry.rid, error: error.message }]);
            return "refused";
          }
          throw error;
        }
        received.add(i);
      }
    }
    return "done";
  }

  async function sendAll(signal) {
    const token = await store.getSetting("deviceToken");
    if (!token || disconnected) return;
    const entries = await store.outboxEntries();
    if (!entries.some((e) => e.state === "queued")) {
      emit("idle");
      return;
    }
    const counts = { delivered: 0, unanswered: 0 };
    await sendEnvelopes(token, envelopesToSend(entries), signal, counts);
    // Then the attachments, report by report, oldest first; a report leaves only once every chunk is in.
    const tried = new Set(); // the reports whose chunks this drain has dealt with
    for (;;) {
      const next = (await store.outboxEntries()).find((e) => e.state === "queued" && e.sent && !tried.has(e.rid));
      if (!next) break;
      tried.add(next.rid);
      if ((await sendChunks(token, next, signal, counts)) === "done") {
        await store.removeFromOutbox([next.rid]);
        counts.delivered += 1;
      }
    }
    if (counts.unanswered) throw new UnreadableAnswer(`no readable answer for ${counts.unanswered} reports`);
    await store.noteSync(today());
    emit("synced", { sent: counts.delivered });
  }
  // Send everything queued; one drain at a time (a call during one makes it run once more afterwards).
  function drain() {
    if (draining) {
      drainAgain = true;
      return draining;
    }
    timers.clearTimeout(retryTimer);
    const controller = new AbortController();
    abandon = controller;
    draining = sendAll(controller.signal)
      .then(() => {
        failures = 0;
      })
      .catch((error) => {
        if (controller.signal.aborted) return; // given up on purpose: the drain that follows sends again
        if (error instanceof api.ApiError && error.status === 401) {
          // The phone was revoked: keep every report, stop trying, tell the worker.
          disconnected = true;
          drainAgain = false;
          emit("disconnected", { message: error.message });
          return;
        }
        // 5xx, 429, network, timeout, an unreadable answer: nothing was decided, try again later. A link
        // still coming up after `online` is tried again soon, without growing the backoff; a busy server is not.
        const kind = failureKind(error, api);
        const soon = kind === "offline" && now() - onlineAt < onlineGraceMs;
        if (!soon) failures += 1;
        drainAgain = false;
        emit("failed", { kind, status: error.status || 0, message: error.message });
        scheduleRetry(soon);
      })
      .finally(() => {
        draining = null;
        abandon = null;
        if (drainAgain) {
          drainAgain = false;
          drain();
        }
      });
    return draining;
  }

  // Give up on the request in flight (its answer may never come) and send again at once. Safe: the
  // server is idempotent by rid, and nothing was deleted without an answer.
  function restart() {
    failures = 0;
    if (!draining) return drain();
    drainAgain = true;
    abandon.abort();
    return draining;
  }

  return {
    events,
    drain,
    // One attempt that rejects on failure (for Background Sync, which then retries by itself).
    attempt: () => sendAll(new AbortController().signal),
    // The network came back: a request begun before is likely dead; forget the backoff and send now.
    online() {
      onlineAt = now();
      return restart();
    },
    // The worker asked: join a request that is still young, give up on one that is overdue.
    sendNow() {
      return stalled || !draining ? restart() : draining;
    },
    // A new bootstrap may have fixed what the server refused (a key it did not know): try those again.
    async retryRejected() {
      if ((await store.requeueRejected()) > 0) return restart();
      return null;
    },
    // Enrolled again after a disconnection.
    reconnected() {
      disconnected = false;
      return restart();
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
