// The service worker: the app shell from a versioned cache, so the app works offline after one visit,
// and Background Sync, so queued reports go out even with the app closed (where the browser has it).
// The version and the list are filled in by the server from a hash of exactly what is cached.
import { ask } from "/static/js/ask.js";
import * as api from "/static/js/api.js";
import { hex, sha256 } from "/static/js/crypto.js";
import * as db from "/static/js/db.js";
import { wipeExpiredDrafts } from "/static/js/drafts.js";
import { outboxStore } from "/static/js/kept.js";
import { phonePublicKey } from "/static/js/lock.js";
import { sealToPhone } from "/static/js/vault.js";
import { createOutbox, localDate } from "/static/js/outbox.js";

const VERSION = "__FIELDAPP_VERSION__";
const PRECACHE = ["__FIELDAPP_PRECACHE__"];
const CACHE = `shell-${VERSION}`;
// The screens with a worker's reports, {url: sha256}: their words tell what the app is for, so they are never
// in Cache Storage. Once the phone has its key they are kept sealed to it, and the unlocked page opens them.
const SEALED_SCREENS = { "__FIELDAPP_SEALED__": "" };
const SCREENS = `screens-${VERSION}`;
// Caches of this app: today's neutral name, and the one earlier versions used.
const OURS = (name) => name.startsWith("shell-") || name.startsWith("fieldapp-shell-");

self.addEventListener("install", (event) => {
  // No skipWaiting here: a new version waits until the page, when idle, asks it to take over.
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(PRECACHE))
      .then(() => sealScreens()),
  );
});

const sameBytes = (a, b) => a && b && a.length === b.length && a.every((byte, i) => byte === b[i]);

// This version's screens sealed to the phone's key, fetched from the server and checked against their
// digests. The server sends them no-store; "reload" also replaces a copy an earlier version left in the
// browser's cache. False before the phone has a key: the page asks again once the PIN made one.
async function sealScreens() {
  const pub = await phonePublicKey();
  if (!pub) return false;
  const stored = await db.getSetting(SCREENS);
  if (stored && sameBytes(stored.to, pub)) return true;
  const files = {};
  for (const [url, digest] of Object.entries(SEALED_SCREENS)) {
    const response = await fetch(url, { cache: "reload" });
    const bytes = await response.arrayBuffer();
    if (!response.ok || hex(await sha256(bytes)) !== digest) throw new Error(`${url}: not this version's`);
    files[url] = new TextDecoder().decode(bytes);
  }
  await db.setSetting(SCREENS, { to: pub, sealed: await sealToPhone(pub, SCREENS, files) });
  return true;
}

async function sealedScreen(event, path) {
  const stored = await db.getSetting(SCREENS);
  const client = stored && event.clientId ? await self.clients.get(event.clientId) : null;
  // The page opens what is sealed (its keys are there once unlocked); no answer in time is none.
  const files = client ? await ask(client, { open: SCREENS, sealed: stored.sealed }, 10000, null) : null;
  if (files && typeof files[path] === "string") {
    return new Response(files[path], { headers: { "Content-Type": "text/javascript; charset=utf-8" } });
  }
  // Before the PIN (enrolling, so online), or sealed to an earlier key (a new enrolment): from the server,
  // and sealed anew for the next time if the phone has a key by now.
  const response = await fetch(path, { cache: "reload" });
  if (response.ok) event.waitUntil(sealScreens().catch(() => false));
  return response;
}

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(names.filter((n) => OURS(n) && n !== CACHE).map((n) => caches.delete(n))),
      )
      .then(() => db.deleteSettingsLike("screens-", SCREENS))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("message", (event) => {
  // Sealed first: once this version takes over, the one before and its sealed copy are gone.
  if (event.data === "take-over") event.waitUntil(sealScreens().catch(() => false).then(() => self.skipWaiting()));
  if (event.data === "seal-screens" && event.ports[0]) {
    const answer = event.ports[0];
    event.waitUntil(sealScreens().then((sealed) => answer.postMessage(sealed), () => answer.postMessage(false)));
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return; // uploads always go to the network, untouched
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/api/") || url.pathname === "/sw.js") return;
  if (Object.hasOwn(SEALED_SCREENS, url.pathname)) return event.respondWith(sealedScreen(event, url.pathname));
  // The shell is one page whatever its query (?lang=…); other pages (the dashboard) are not the app's.
  const lookup = url.pathname === "/" ? "/" : request;
  event.respondWith(caches.open(CACHE).then((cache) => cache.match(lookup).then((hit) => hit || fetch(request))));
});

self.addEventListener("sync", (event) => {
  if (event.tag !== "queue" && event.tag !== "fieldapp-outbox") return; // the second: registered by earlier versions
  // A failure rejects, so that the browser tries this sync again later.
  event.waitUntil(
    wipeExpiredDrafts()
      .then(() => db.getSetting("language"))
      .then((code) => api.setLanguage(code))
      .then(() => createOutbox({ store: outboxStore, api, today: localDate }).attempt()),
  );
});
