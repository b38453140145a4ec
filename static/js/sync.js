// This phone's outbox, and its copy of what the server offers (keys, forms, languages, the organisation's
// rules), kept sealed to the phone's key: no DOM here.

import * as api from "./api.js";
import { hex, KeyListRefused, sha256, verifyKeyList } from "./crypto.js";
import * as db from "./db.js";
import * as kept from "./kept.js";
import * as lock from "./lock.js";
import { createOutbox } from "./outbox.js";

export const outbox = createOutbox({ store: kept.outboxStore, api });

// The server's word that this phone was revoked with a wipe (a 401 whose problem says "wipe": true).
export function ordersWipe(error) {
  return error instanceof api.ApiError && error.status === 401 && Boolean(error.problem && error.problem.wipe === true);
}

// A bootstrap that brings something new (a key the server now knows, a form) may fix what it refused.
// Answers "wiped" when the server ordered the wipe: done here, sealed reports kept and still sent; "refused"
// when its key list is not the organisation's (nothing of it is kept: the phone seals as before).
// `expected`: the signer's fingerprint an enrolment QR carried.
export async function refreshBootstrap(token, expected = null) {
  let data;
  try {
    data = await api.bootstrap(token);
  } catch (error) {
    if (!ordersWipe(error)) throw error;
    await lock.wipe();
    kept.forget();
    return "wiped";
  }
  try {
    data = await trustedKeys(data, expected);
  } catch (error) {
    if (!(error instanceof KeyListRefused)) throw error;
    await db.setSetting("keysRefused", true);
    return "refused";
  }
  await db.deleteSetting("keysRefused");
  await lock.setRules(data.phone);
  // Compared by a digest kept in the clear (a locked phone cannot read the sealed copy, and must still retry),
  // salted per phone so that it cannot link the phone to an organisation whose bootstrap is known.
  const before = (await db.getSetting("bootstrapTag")) || { salt: randomHex(), tag: "" };
  const tag = await digest(before.salt + JSON.stringify(data));
  await kept.keep("bootstrap", data);
  if (tag !== before.tag) {
    await db.setSetting("bootstrapTag", { salt: before.salt, tag });
    outbox.retryRejected();
  }
  return "fresh";
}

// The bootstrap with the keys its signed list names, once that list is signed by the key this phone pinned
// (docs/PROTOCOL.md §12). The first signed list pins its signer; from then on an unsigned list, one by another
// signer or an older one is refused. The pin is a salted digest in the clear: a locked phone checks it too.
async function trustedKeys(data, given) {
  const pin = await db.getSetting("signer");
  const expected = given || (await db.getSetting("expectedSigner"));
  if (!data || !data.signed_keys) {
    if (pin || expected) throw new KeyListRefused("unsigned");
    return data; // a server that signs nothing, to a phone that pinned nothing
  }
  const verified = await verifyKeyList(data.signed_keys);
  if (expected && verified.fingerprint !== expected) throw new KeyListRefused("not the signer the code named");
  if (pin && (await digest(pin.salt + verified.fingerprint)) !== pin.tag) throw new KeyListRefused("another signer");
  if (pin && verified.seq < pin.seq) throw new KeyListRefused("an older list");
  const salt = pin ? pin.salt : randomHex();
  await db.setSetting("signer", { salt, tag: await digest(salt + verified.fingerprint), seq: verified.seq });
  if (expected) await db.deleteSetting("expectedSigner");
  return { ...data, keys: verified.keys, signer: verified.fingerprint };
}

const randomHex = () => hex(crypto.getRandomValues(new Uint8Array(16)));
const digest = async (text) => hex(await sha256(new TextEncoder().encode(text)));

export async function requestBackgroundSync() {
  const registration = await navigator.serviceWorker?.ready;
  if (registration && "sync" in registration) {
    try {
      await registration.sync.register("queue");
    } catch {
      // Not allowed here (e.g. no permission): the page's own timers still send.
    }
  }
}
