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

// "fieldapp/piece/1|<draft>|<media>|<n>": a slice of a draft's recording or photo opens only in its place.
function pieceAad(draftId, mediaId, n) {
  return encoder.encode(`fieldapp/piece/1|${draftId}|${mediaId}|${n}`);
}

// Bytes of a draft's recording or photo sealed under the data key, so that none reach storage readable.
export async function sealPiece(dataKey, draftId, mediaId, n, bytes) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const additionalData = pieceAad(draftId, mediaId, n);
  return { iv, ct: new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData }, dataKey, bytes)) };
}

export async function openPiece(dataKey, draftId, mediaId, n, sealed) {
  const additionalData = pieceAad(draftId, mediaId, n);
  return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: sealed.iv, additionalData }, dataKey, sealed.ct));
}

// Seconds to wait before the next PIN try after `failures` wrong ones: none for the first three, then doubling.
export function pinDelaySeconds(failures) {
  return failures < 3 ? 0 : Math.min(300, 2 ** (failures - 3) * 5);
}

// --- the phone's own key pair: what arrives while the phone is locked (a fresh bootstrap, a refusal's reason,
// the date of a sync) is sealed to its public key, and opens only with the private key the PIN unwraps.

const PHONE_KEY_AAD = encoder.encode("fieldapp/vault/1|phone-key");
const KEPT_INFO = encoder.encode("fieldapp/kept/1");
const P256 = { name: "ECDH", namedCurve: "P-256" };

// "fieldapp/kept/1|<name>": a kept value opens only under the name it was kept as.
export function keptAad(name) {
  return encoder.encode(`fieldapp/kept/1|${name}`);
}

// The record with a phone key pair added: the public key in the clear, the private key wrapped under the data key.
export async function addPhoneKey(dataKey, record) {
  const pair = await crypto.subtle.generateKey(P256, true, ["deriveBits"]);
  const pub = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const wrapped = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: PHONE_KEY_AAD }, dataKey, pkcs8));
  pkcs8.fill(0);
  return { ...record, phone: { pub, iv, wrapped } };
}

// The phone's private key from an open vault (not extractable), or null for a record made before it existed.
export async function openPhoneKey(dataKey, record) {
  if (!record || !record.phone) return null;
  const pkcs8 = new Uint8Array(
    await crypto.subtle.decrypt({ name: "AES-GCM", iv: record.phone.iv, additionalData: PHONE_KEY_AAD }, dataKey, record.phone.wrapped),
  );
  const key = await crypto.subtle.importKey("pkcs8", pkcs8, P256, false, ["deriveBits"]);
  pkcs8.fill(0);
  return key;
}

async function keptKey(secretBits, epk, pub) {
  const salt = new Uint8Array(epk.length + pub.length);
  salt.set(epk);
  salt.set(pub, epk.length);
  const ikm = await crypto.subtle.importKey("raw", secretBits, "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt, info: KEPT_INFO }, ikm, { name: "AES-GCM", length: 256 }, false, [
    "encrypt",
    "decrypt",
  ]);
}

// Any JSON value sealed to the phone's public key (an ephemeral ECDH key, HKDF, AES-GCM): no PIN needed.
export async function sealToPhone(pub, name, value) {
  const publicKey = await crypto.subtle.importKey("raw", pub, P256, false, []);
  const ephemeral = await crypto.subtle.generateKey(P256, true, ["deriveBits"]);
  const epk = new Uint8Array(await crypto.subtle.exportKey("raw", ephemeral.publicKey));
  const bits = await crypto.subtle.deriveBits({ name: "ECDH", public: publicKey }, ephemeral.privateKey, 256);
  const key = await keptKey(bits, epk, pub);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const plain = encoder.encode(JSON.stringify(value));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: keptAad(name) }, key, plain));
  return { epk, iv, ct };
}

export async function openFromPhone(privateKey, pub, name, sealed) {
  const epk = await crypto.subtle.importKey("raw", sealed.epk, P256, false, []);
  const bits = await crypto.subtle.deriveBits({ name: "ECDH", public: epk }, privateKey, 256);
  const key = await keptKey(bits, sealed.epk, pub);
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: sealed.iv, additionalData: keptAad(name) }, key, sealed.ct);
  return JSON.parse(decoder.decode(plain));
}

// --- the duress PIN: a marker sealed under the key a second PIN derives, with the vault's own salt and
// iterations, so that one derivation of whatever was typed answers both questions in the same time.

const DURESS_AAD = encoder.encode("fieldapp/vault/1|duress");

export async function duressMarker(pin, record) {
  const key = await pinKey(pin, record.salt, record.iterations);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: DURESS_AAD }, key, new Uint8Array(16)));
  return { iv, ct };
}

// "open" (with the data key), "duress" or WrongPin, after one PBKDF2 derivation whatever the outcome.
export async function tryVault(pin, record, duress) {
  if (!record || record.v !== VAULT_VERSION || record.iterations < MIN_ITERATIONS) throw new Error("not a vault");
  const key = await pinKey(pin, record.salt, record.iterations);
  try {
    const raw = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: record.iv, additionalData: WRAP_AAD }, key, record.wrapped));
    const dataKey = await importDataKey(raw);
    raw.fill(0);
    return { outcome: "open", dataKey };
  } catch {
    // not the PIN: perhaps the duress one
  }
  if (duress) {
    try {
      await crypto.subtle.decrypt({ name: "AES-GCM", iv: duress.iv, additionalData: DURESS_AAD }, key, duress.ct);
      return { outcome: "duress", dataKey: null };
    } catch {
      // neither
    }
  }
  throw new WrongPin();
}
