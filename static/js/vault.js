// The phone's PIN lock and encrypted drafts (WebCrypto only): a random data key, kept wrapped under a key
// derived from the PIN, encrypts each draft. Pure functions: no storage, no network, no DOM.
// Honest limit: a PWA has no secure element, so a short PIN slows a look at the phone, not a forensic lab.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const VAULT_VERSION = 1;
export const MIN_ITERATIONS = 100_000;
const MAX_ITERATIONS = 10_000_000;
const WRAP_AAD = encoder.encode("fieldapp/vault/1|data-key");

export class WrongPin extends Error {
  constructor() {
    super("wrong PIN");
    this.name = "WrongPin";
  }
}

// "fieldapp/draft/1|<id>": a draft's ciphertext opens only as that draft.
export function draftAad(draftId) {
  return encoder.encode(`fieldapp/draft/1|${draftId}`);
}

async function pinKey(pin, salt, iterations) {
  const material = await crypto.subtle.importKey("raw", encoder.encode(pin.normalize("NFKC")), "PBKDF2", false, [
    "deriveKey",
  ]);
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

// PBKDF2 iterations that take about `targetMs` on this phone (never under MIN_ITERATIONS): the faster of two
// probes, since the first also pays for warming WebCrypto up.
export async function calibrateIterations(targetMs = 700, probe = 100_000) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  let fastest = Infinity;
  for (let i = 0; i < 2; i++) {
    const started = performance.now();
    await pinKey("calibration", salt, probe);
    fastest = Math.min(fastest, Math.max(performance.now() - started, 1));
  }
  const scaled = Math.round((probe * targetMs) / fastest / 1000) * 1000;
  return Math.min(MAX_ITERATIONS, Math.max(MIN_ITERATIONS, scaled));
}

function importDataKey(raw) {
  // Not extractable once in use: code that later runs in the page cannot export it.
  return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
}

// A new vault for `pin`: the record to store (salt, iterations, the wrapped data key) and the open data key.
export async function createVault(pin, iterations) {
  if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS) throw new Error("too few PBKDF2 iterations");
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const wrapping = await pinKey(pin, salt, iterations);
  const wrapped = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: WRAP_AAD }, wrapping, raw));
  const record = { v: VAULT_VERSION, kdf: "PBKDF2-SHA-256", iterations, salt, iv, wrapped };
  const dataKey = await importDataKey(raw);
  raw.fill(0);
  return { record, dataKey };
}

// The data key of a vault record, or WrongPin.
export async function openVault(pin, record) {
  if (!record || record.v !== VAULT_VERSION || record.iterations < MIN_ITERATIONS) throw new Error("not a vault");
  const wrapping = await pinKey(pin, record.salt, record.iterations);
  let raw;
  try {
    raw = new Uint8Array(
      await crypto.subtle.decrypt({ name: "AES-GCM", iv: record.iv, additionalData: WRAP_AAD }, wrapping, record.wrapped),
    );
  } catch {
    throw new WrongPin();
  }
  const dataKey = await importDataKey(raw);
  raw.fill(0);
  return dataKey;
}

// A draft's content (any JSON value) sealed under the data key with a fresh IV.
export async function sealDraft(dataKey, draftId, content) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const plain = encoder.encode(JSON.stringify(content));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: draftAad(draftId) }, dataKey, plain));
  return { iv, ct };
}

export async function openDraft(dataKey, draftId, sealed) {
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: sealed.iv, additionalData: draftAad(draftId) }, dataKey, sealed.ct);
  return JSON.parse(decoder.decode(plain));
}

// Seconds to wait before the next PIN try after `failures` wrong ones: none for the first three, then doubling.
export function pinDelaySeconds(failures) {
  return failures < 3 ? 0 : Math.min(300, 2 ** (failures - 3) * 5);
}
