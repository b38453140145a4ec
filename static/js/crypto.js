// Report sealing in the browser, exactly as docs/PROTOCOL.md §2 fixes it (WebCrypto only).
// Pure functions: bytes in, bytes out; no storage, no network, no DOM.

const encoder = new TextEncoder();
const REPORT_INFO = encoder.encode("fieldapp/1 report");
const ECDH = { name: "ECDH", namedCurve: "P-256" };

export function b64uEncode(bytes) {
  // A loop, not String.fromCharCode(...bytes): spreading 256 KiB overflows the stack.
  let binary = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + step));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function b64uDecode(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new Error("not base64url");
  }
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

export async function kidFor(pub) {
  return hex((await sha256(pub)).subarray(0, 8));
}

export async function gzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// The report document as compact UTF-8 JSON (JSON.stringify is compact), gzip-compressed.
export async function encodeDocument(doc) {
  return gzip(encoder.encode(JSON.stringify(doc)));
}

async function ephemeralPair(ephemeralJwk) {
  if (!ephemeralJwk) {
    const pair = await crypto.subtle.generateKey(ECDH, true, ["deriveBits"]);
    return { privateKey: pair.privateKey, epk: new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)) };
  }
  // Known-answer tests only: a fixed ephemeral key.
  const privateKey = await crypto.subtle.importKey("jwk", ephemeralJwk, ECDH, false, ["deriveBits"]);
  const { d, ...publicJwk } = ephemeralJwk;
  const publicKey = await crypto.subtle.importKey("jwk", publicJwk, ECDH, true, []);
  return { privateKey, epk: new Uint8Array(await crypto.subtle.exportKey("raw", publicKey)) };
}

// Seal gzip-compressed document bytes to the organisation key `pub` (65-byte raw P-256 point).
// `ephemeralJwk` and `iv` are injectable only so that known-answer vectors can be reproduced.
export async function sealReport(docGz, pub, rid, { ephemeralJwk, iv, att } = {}) {
  const recipient = await crypto.subtle.importKey("raw", pub, ECDH, false, []);
  const kid = await kidFor(pub);
  const { privateKey, epk } = await ephemeralPair(ephemeralJwk);
  const z = await crypto.subtle.deriveBits({ name: "ECDH", public: recipient }, privateKey, 256);
  const hkdfKey = await crypto.subtle.importKey("raw", z, "HKDF", false, ["deriveKey"]);
  const aesKey = await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: concat(epk, pub), info: REPORT_INFO },
    hkdfKey,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt"],
  );
  const nonce = iv || crypto.getRandomValues(new Uint8Array(12));
  const aad = encoder.encode(`fieldapp/1|${rid}|${kid}`);
  const ct = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: aad }, aesKey, docGz),
  );
  const envelope = { v: 1, rid, kid, epk: b64uEncode(epk), iv: b64uEncode(nonce), ct: b64uEncode(ct) };
  if (att && att.length) envelope.att = att;
  return envelope;
}

// A whole report: encode, compress and seal; a fresh rid unless one is given. `att`: its attachments' list.
export async function sealDocument(doc, pub, rid = crypto.randomUUID(), att = []) {
  return sealReport(await encodeDocument(doc), pub, rid, { att });
}

// Attachment chunk i (PROTOCOL.md §4): iv = 4 zero bytes || i as 8-byte big-endian.
export function chunkIv(index) {
  const iv = new Uint8Array(12);
  new DataView(iv.buffer).setBigUint64(4, BigInt(index));
  return iv;
}

export async function sealChunks(key, aid, plaintext, chunkSize = 262144) {
  const aes = await crypto.subtle.importKey("raw", key, "AES-GCM", false, ["encrypt"]);
  const count = Math.max(1, Math.ceil(plaintext.length / chunkSize));
  const chunks = [];
  for (let i = 0; i < count; i++) {
    const piece = plaintext.subarray(i * chunkSize, (i + 1) * chunkSize);
    const aad = encoder.encode(`fieldapp/1|${aid}|${i}|${i === count - 1 ? "last" : "more"}`);
    chunks.push(new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: chunkIv(i), additionalData: aad }, aes, piece)));
  }
  return chunks;
}
