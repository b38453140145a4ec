// The outbox as one file (docs/PROTOCOL.md §6 and §10), for a base with no server in reach: sealed envelopes and
// their chunks, ciphertext only, in a zip of stored members. Pure: bytes in, bytes out; no storage, no DOM.

const encoder = new TextEncoder();

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes) {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// A zip of stored (uncompressed) members: [{ name, bytes }] -> Uint8Array. Ciphertext does not compress, and a
// stored zip needs no library. Sizes and CRCs go in the local headers: every unzip tool reads it.
export function zipStored(files, when = new Date()) {
  const time = (when.getHours() << 11) | (when.getMinutes() << 5) | (when.getSeconds() >> 1);
  const date = ((when.getFullYear() - 1980) << 9) | ((when.getMonth() + 1) << 5) | when.getDate();
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const { name, bytes } of files) {
    const nameBytes = encoder.encode(name);
    const crc = crc32(bytes);
    const local = new Uint8Array(30 + nameBytes.length);
    const l = new DataView(local.buffer);
    l.setUint32(0, 0x04034b50, true);
    l.setUint16(4, 20, true); // version needed: 2.0
    l.setUint16(6, 0x0800, true); // names in UTF-8
    l.setUint16(8, 0, true); // stored
    l.setUint16(10, time, true);
    l.setUint16(12, date, true);
    l.setUint32(14, crc, true);
    l.setUint32(18, bytes.length, true);
    l.setUint32(22, bytes.length, true);
    l.setUint16(26, nameBytes.length, true);
    local.set(nameBytes, 30);
    const central = new Uint8Array(46 + nameBytes.length);
    const c = new DataView(central.buffer);
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, (3 << 8) | 20, true); // made on Unix: the external attributes are a file mode
    c.setUint16(6, 20, true);
    c.setUint16(8, 0x0800, true);
    c.setUint16(10, 0, true);
    c.setUint16(12, time, true);
    c.setUint16(14, date, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, bytes.length, true);
    c.setUint32(24, bytes.length, true);
    c.setUint16(28, nameBytes.length, true);
    c.setUint32(38, 0o100600 * 0x10000, true); // a plain file, readable by its owner (external attributes)
    c.setUint32(42, offset, true);
    central.set(nameBytes, 46);
    locals.push(local, bytes);
    centrals.push(central);
    offset += local.length + bytes.length;
  }
  const centralSize = centrals.reduce((n, part) => n + part.length, 0);
  if (offset + centralSize > 0xffffffff) throw new Error("larger than a zip without Zip64 holds");
  const end = new Uint8Array(22);
  const e = new DataView(end.buffer);
  e.setUint32(0, 0x06054b50, true);
  e.setUint16(8, files.length, true);
  e.setUint16(10, files.length, true);
  e.setUint32(12, centralSize, true);
  e.setUint32(16, offset, true);
  const out = new Uint8Array(offset + centralSize + end.length);
  let at = 0;
  for (const part of [...locals, ...centrals, end]) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// The bundle of these outbox entries ([{ envelope }]) and their chunks (`chunkOf(aid, i)` -> bytes or null). A v1
// bundle: the file may be found on the phone, so it names no team (the base says which at import) and carries
// the day it was made, not the hour.
export async function makeBundle(entries, chunkOf, when = new Date()) {
  const lines = entries.map((e) => JSON.stringify(e.envelope) + "\n");
  const day = new Date(Date.UTC(when.getFullYear(), when.getMonth(), when.getDate())).toISOString().slice(0, 10);
  const manifest = { format: "fieldapp-bundle", v: 1, created_at: day, count: entries.length };
  const files = [
    { name: "manifest.json", bytes: encoder.encode(JSON.stringify(manifest)) },
    { name: "reports.jsonl", bytes: encoder.encode(lines.join("")) },
  ];
  for (const { envelope } of entries) {
    for (const { aid, chunks } of envelope.att || []) {
      for (let i = 0; i < chunks; i++) {
        const bytes = await chunkOf(aid, i);
        if (bytes) files.push({ name: `attachments/${aid}/${i}.bin`, bytes });
      }
    }
  }
  if (files.length > 0xffff) throw new Error("more members than a zip without Zip64 holds");
  return zipStored(files, new Date(when.getFullYear(), when.getMonth(), when.getDate()));
}
