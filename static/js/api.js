// The only module that calls fetch: the device API of docs/PROTOCOL.md §5.

export class ApiError extends Error {
  // The server answered with an error status; `problem` is its problem+json body when it sent one.
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export class NetworkError extends Error {
  // No answer at all: offline, connection cut, or timed out. The request may or may not have arrived.
}

// The phone's chosen language, so that the server's messages (a refused report's reason) come in it.
let language = null;

export function setLanguage(code) {
  language = code || null;
}

// Uploads wait for the body to cross the slowest link the phones meet, not a fixed two minutes.
const UPLOAD_BASE_MS = 15000; // connecting and the server's work, on a bad signal
const SLOWEST_LINK_BYTES_PER_S = 2048; // a weak 2G link
const SLOWEST_CHUNK_BYTES_PER_S = 1024; // a chunk is small enough to wait for at GPRS's worst
const UPLOAD_MAX_MS = 5 * 60 * 1000;

function timeoutAt(bytes, bytesPerS) {
  return Math.min(UPLOAD_MAX_MS, Math.round(UPLOAD_BASE_MS + (bytes / bytesPerS) * 1000));
}

export function uploadTimeoutMs(bytes) {
  return timeoutAt(bytes, SLOWEST_LINK_BYTES_PER_S);
}

export function chunkTimeoutMs(bytes) {
  return timeoutAt(bytes, SLOWEST_CHUNK_BYTES_PER_S);
}

// `body` is JSON text unless a `type` says otherwise; `signal` lets the caller give up (the connection came
// back, the worker pressed "Enviar ahora"). A 204 answers {}.
async function call(method, path, { token, body, type = "application/json", timeoutMs = 60000, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (language) headers["Accept-Language"] = language === "es" ? "es" : `${language}, es;q=0.5`;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = type;
  const abort = new AbortController();
  const giveUp = () => abort.abort();
  // The timer and the caller's signal cover the answer's body too: a body held back stalls like no answer.
  const timer = setTimeout(giveUp, timeoutMs);
  signal?.addEventListener("abort", giveUp);
  if (signal?.aborted) giveUp();
  let response;
  let payload = null;
  try {
    response = await fetch(path, {
      method,
      headers,
      body,
      signal: abort.signal,
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
    try {
      payload = response.status === 204 ? {} : await response.json();
    } catch (error) {
      if (abort.signal.aborted) throw error;
      payload = null; // a proxy's HTML error page, or a body cut off
    }
  } catch (error) {
    throw new NetworkError(String(error));
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", giveUp);
  }
  if (!response.ok) throw new ApiError(response.status, payload);
  if (payload === null) throw new NetworkError("answer could not be read");
  return payload;
}

// `enrollmentId` is made once per code tried: the same pair again after a lost answer gets the same phone.
export function enroll(code, enrollmentId) {
  return call("POST", "/api/v1/enroll", { body: JSON.stringify({ code, enrollment_id: enrollmentId }) });
}

export function bootstrap(token) {
  return call("GET", "/api/v1/bootstrap", { token });
}

export function postReports(token, envelopes, { signal } = {}) {
  const body = JSON.stringify({ reports: envelopes });
  return call("POST", "/api/v1/reports", { token, body, timeoutMs: uploadTimeoutMs(body.length), signal });
}

// What the server holds of an attachment: { chunks, received: [i, …] }.
export function attachmentStatus(token, aid, { signal } = {}) {
  return call("GET", `/api/v1/attachments/${encodeURIComponent(aid)}`, { token, signal });
}

// One sealed chunk, as raw bytes; the same chunk again changes nothing on the server.
export function putChunk(token, aid, index, bytes, { signal } = {}) {
  const path = `/api/v1/attachments/${encodeURIComponent(aid)}/chunks/${index}`;
  const timeoutMs = chunkTimeoutMs(bytes.length);
  return call("PUT", path, { token, body: bytes, type: "application/octet-stream", timeoutMs, signal });
}

// A language's compiled catalog (msgid -> translation); the phone keeps it sealed for offline use (kept.js).
export async function catalog(code) {
  let response;
  try {
    response = await fetch(`/i18n/${encodeURIComponent(code)}.json`, { credentials: "omit", cache: "no-store" });
  } catch (error) {
    throw new NetworkError(String(error));
  }
  if (!response.ok) throw new ApiError(response.status, null);
  return response.json();
}
