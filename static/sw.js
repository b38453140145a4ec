// The service worker: the app shell from a versioned cache, so the app works offline after one visit,
// and Background Sync, so queued reports go out even with the app closed (where the browser has it).
// The version and the list are filled in by the server from a hash of exactly what is cached.
import * as api from "/static/js/api.js";
import * as db from "/static/js/db.js";
import { wipeExpiredDrafts } from "/static/js/drafts.js";
import { outboxStore } from "/static/js/kept.js";
import { createOutbox, localDate } from "/static/js/outbox.js";

const VERSION = "__FIELDAPP_VERSION__";
const PRECACHE = ["__FIELDAPP_PRECACHE__"];
const CACHE = `shell-${VERSION}`;
// Caches of this app: today's neutral name, and the one earlier versions used.
const OURS = (name) => name.startsWith("shell-") || name.startsWith("fieldapp-shell-");

self.addEventListener("install", (event) => {
  // No skipWaiting here: a new version waits until the page, when idle, asks it to take over.
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(PRECACHE)));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(names.filter((n) => OURS(n) && n !== CACHE).map((n) => caches.delete(n))),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("message", (event) => {
  if (event.data === "take-over") self.skipWaiting();
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return; // uploads always go to the network, untouched
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/api/") || url.pathname === "/sw.js") return;
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
