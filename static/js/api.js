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

async function call(method, path, { token, body, timeoutMs = 60000 } = {}) {
  const headers = { Accept: "application/json" };
  if (language) headers["Accept-Language"] = language === "es" ? "es" : `${language}, es;q=0.5`;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: abort.signal,
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
  } catch (error) {
    throw new NetworkError(String(error));
  } finally {
    clearTimeout(timer);
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null; // a proxy's HTML error page, or a body cut off
  }
  if (!response.ok) throw new ApiError(response.status, payload);
  if (payload === null) throw new NetworkError("answer could not be read");
  return payload;
}

export function enroll(code) {
  return call("POST", "/api/v1/enroll", { body: { code } });
}

export function bootstrap(token) {
  return call("GET", "/api/v1/bootstrap", { token });
}

export function postReports(token, envelopes) {
  return call("POST", "/api/v1/reports", { token, body: { reports: envelopes }, timeoutMs: 120000 });
}

// A language's compiled catalog (msgid -> translation); the service worker serves it offline.
export async function catalog(code) {
  let response;
  try {
    response = await fetch(`/i18n/${encodeURIComponent(code)}.json`, { credentials: "omit" });
  } catch (error) {
    throw new NetworkError(String(error));
  }
  if (!response.ok) throw new ApiError(response.status, null);
  return response.json();
}
