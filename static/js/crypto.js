// Report sealing in the browser, exactly as docs/PROTOCOL.md §2 and §4 fix it (WebCrypto only).
// Pure functions: bytes in, bytes out; no storage, no network, no DOM.

const encoder = new TextEncoder();
// What each version fixes; v1 is never edited, v2 only adds smaller chunks under labels of its own.
export const WIRES = {
  1: { info: encoder.encode("fieldapp/1 report"), prefix: "fieldapp/1|", chunkSize: 262144 },
  2: { info: encoder.encode("fieldapp/2 report"), prefix: "fieldapp/2|", chunkSize: 65536 },
};
export const LATEST_VERSION = 2;

// The highest version both this phone and the server speak (a server that names none speaks v1).
export function versionFor(bootstrap) {
  const offered = (bootstrap && Array.isArray(bootstrap.versions) && bootstrap.versions) || [1];
  return Math.max(1, ...offered.filter((v) => Object.hasOwn(WIRES, v)));
}

function wire(v) {
  if (!Object.hasOwn(WIRES, v)) throw new Error(`no protocol version ${v}`);
  return WIRES[v];
}
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

// Seal gzip-compressed document bytes to the organisation key `pub` (65-byte raw P-256 point), as version `v`.
// `ephemeralJwk` and `iv` are injectable only so that known-answer vectors can be reproduced.
export async function sealReport(docGz, pub, rid, { ephemeralJwk, iv, att, v = 1 } = {}) {
  const { info, prefix } = wire(v);
  const recipient = await crypto.subtle.importKey("raw", pub, ECDH, false, []);
  const kid = await kidFor(pub);
  const { privateKey, epk } = await ephemeralPair(ephemeralJwk);
  const z = await crypto.subtle.deriveBits({ name: "ECDH", public: recipient }, privateKey, 256);
  const hkdfKey = await crypto.subtle.importKey("raw", z, "HKDF", false, ["deriveKey"]);
  const aesKey = await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: concat(epk, pub), info },
    hkdfKey,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt"],
  );
  const nonce = iv || crypto.getRandomValues(new Uint8Array(12));
  const aad = encoder.encode(`${prefix}${rid}|${kid}`);
  const ct = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: aad }, aesKey, docGz),
  );
  const envelope = { v, rid, kid, epk: b64uEncode(epk), iv: b64uEncode(nonce), ct: b64uEncode(ct) };
  if (att && att.length) envelope.att = att;
  return envelope;
}

// A whole report: encode, compress and seal; a fresh rid unless one is given. `att`: its attachments' list.
export async function sealDocument(doc, pub, rid = crypto.randomUUID(), att = [], v = 1) {
  return sealReport(await encodeDocument(doc), pub, rid, { att, v });
}

// Attachment chunk i (PROTOCOL.md §4): iv = 4 zero bytes || i as 8-byte big-endian.
export function chunkIv(index) {
  const iv = new Uint8Array(12);
  new DataView(iv.buffer).setBigUint64(4, BigInt(index));
  return iv;
}

// How many chunks a file of `size` bytes is cut into in version `v` (an empty file is one empty chunk).
export function chunkCount(size, v = 1) {
  return Math.max(1, Math.ceil(size / wire(v).chunkSize));
}

const SEAL_WINDOW = 8; // chunks sealed at once

export async function sealChunks(key, aid, plaintext, v = 1) {
  const { chunkSize, prefix } = wire(v);
  const aes = await crypto.subtle.importKey("raw", key, "AES-GCM", false, ["encrypt"]);
  const count = chunkCount(plaintext.length, v);
  const chunks = new Array(count);
  const seal = async (i) => {
    const piece = plaintext.subarray(i * chunkSize, (i + 1) * chunkSize);
    const aad = encoder.encode(`${prefix}${aid}|${i}|${i === count - 1 ? "last" : "more"}`);
    chunks[i] = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: chunkIv(i), additionalData: aad }, aes, piece));
  };
  // A few asked for at once (WebCrypto then needs no round trip between them), not all: each call copies its
  // plaintext, and a long recording copied whole at once would double the memory a cheap phone has for it.
  for (let start = 0; start < count; start += SEAL_WINDOW) {
    const inFlight = [];
    for (let i = start; i < Math.min(count, start + SEAL_WINDOW); i++) inFlight.push(seal(i));
    await Promise.all(inFlight);
  }
  return chunks;
}

// --- the organisation's signed key list (docs/PROTOCOL.md §12)

export class KeyListRefused extends Error {}

const LIST_CONTEXT = encoder.encode("fieldapp/1 key list\n");
const ECDSA = { name: "ECDSA", namedCurve: "P-256" };

// What a person compares, and the enrolment QR carries: the first 16 bytes of SHA-256 of the signer's key.
export async function signerFingerprint(signer) {
  return hex(await sha256(signer)).slice(0, 32);
}

// The same fingerprint as the dashboard shows it: 8 groups of 4.
export function fingerprintText(fingerprint) {
  return fingerprint.toUpperCase().match(/.{4}/g).join(" ");
}

// A bootstrap's `signed_keys`, checked: its signature by the signer it names, and a list of keys each named by
// its own kid, one of them current. Throws KeyListRefused otherwise. Whether the signer is the pinned one is
// the caller's to check (it has the pin).
export async function verifyKeyList(signed) {
  let list, sig, signer;
  try {
    if (!signed || typeof signed !== "object") throw new Error("absent");
    [list, sig, signer] = [b64uDecode(signed.list), b64uDecode(signed.sig), b64uDecode(signed.signer)];
  } catch {
    throw new KeyListRefused("unreadable");
  }
  if (sig.length !== 64 || signer.length !== 65 || signer[0] !== 4) throw new KeyListRefused("lengths");
  let ok = false;
  try {
    const key = await crypto.subtle.importKey("raw", signer, ECDSA, false, ["verify"]);
    ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, sig, concat(LIST_CONTEXT, list));
  } catch {
    ok = false;
  }
  if (!ok) throw new KeyListRefused("signature");
  let parsed;
  try {
    parsed = JSON.parse(new TextDecoder("ascii", { fatal: true }).decode(list));
  } catch {
    throw new KeyListRefused("not JSON");
  }
  const members = parsed && typeof parsed === "object" ? Object.keys(parsed).sort().join() : "";
  if (members !== "format,keys,seq,v" || parsed.format !== "fieldapp-keys" || parsed.v !== 1 || !Number.isSafeInteger(parsed.seq) || parsed.seq < 1 || !Array.isArray(parsed.keys) || parsed.keys.length < 1) {
    throw new KeyListRefused("format");
  }
  for (const entry of parsed.keys) {
    const named = entry && typeof entry === "object" ? Object.keys(entry).sort().join() : "";
    if (named !== "alg,current,kid,pub" || entry.alg !== "ECDH-P256" || typeof entry.current !== "boolean") throw new KeyListRefused("key");
    let pub;
    try {
      pub = b64uDecode(entry.pub);
    } catch {
      throw new KeyListRefused("key");
    }
    if (pub.length !== 65 || pub[0] !== 4 || (await kidFor(pub)) !== entry.kid) throw new KeyListRefused("kid");
  }
  const kids = new Set(parsed.keys.map((k) => k.kid));
  if (parsed.keys.filter((k) => k.current).length !== 1 || kids.size !== parsed.keys.length) throw new KeyListRefused("current");
  return { seq: parsed.seq, keys: parsed.keys, signer, fingerprint: await signerFingerprint(signer) };
}
