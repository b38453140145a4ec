// The language picker: switched without a reload, remembered on the phone, works offline. Every offered
// language's catalog is kept sealed (kept.js); only the few words of the locked screens stay readable.

import * as api from "../api.js";
import * as db from "../db.js";
import { currentLocale, setCatalog, t } from "../i18n.js";
import * as kept from "../kept.js";
import { hasPin, openPhoneKey } from "../lock.js";
import { el } from "./el.js";
import { LOCKED_WORDS } from "./lock.js";
import { root } from "./screen.js";

// `redraw(message)` shows the screen the picker is on again, in the new language or with why not.
export async function languagePicker(redraw) {
  const languages = await offeredLanguages();
  if (languages.length < 2) return null;
  const select = el(
    "select",
    { id: "language", onchange: (event) => switchLanguage(event.target.value, redraw) },
    languages.map((l) => el("option", { value: l.code, selected: l.code === currentLocale(), text: l.name })),
  );
  return el("div", { class: "field" }, el("label", { for: "language", text: t("Idioma") }), select);
}

// ?lang=CODE previews a language (translators checking their work) without changing the phone's choice.
function previewed() {
  return new URLSearchParams(location.search).get("lang");
}

// At start, locked (or just after enrolment, the whole catalog): the locked screens' words in the phone's choice, else the phone's own language when the
// server offers it, else Spanish. A phone not enrolled yet has nothing kept: its catalog comes from the server.
export async function startLanguage() {
  const chosen = previewed() || (await db.getSetting("language"));
  const language = chosen || (await phoneLanguage());
  if (language === currentLocale() && language === "es") return;
  const whole = await keptCatalog(language); // readable only unlocked, or just after enrolment (in memory)
  if (whole) return applyLanguage(language, whole);
  const words = await db.getSetting("lockedWords");
  if (words && words.code === language) return setCatalog(language, words);
  const fresh = language === "es" ? null : await api.catalog(language).catch(() => null);
  if (language !== "es" && !fresh) return; // offline, and nothing kept: Spanish until the server answers
  await keepCatalog(language, fresh);
  applyLanguage(language, fresh);
}

// Unlocked: the whole catalog, from the sealed copy at once and fresh from the server when it answers.
export async function unlockedLanguage() {
  const language = previewed() || (await db.getSetting("language")) || currentLocale();
  if (language === "es") applyLanguage("es", null);
  else {
    const stored = await keptCatalog(language);
    if (stored) applyLanguage(language, stored);
  }
}

async function keptCatalog(code) {
  const all = await kept.read("catalogs");
  return (all && all[code]) || null;
}

// Every language the server offers, fetched and kept sealed, so that the worker can switch offline. Answers
// true when the language on screen changed (a translation saved on the dashboard meanwhile).
export async function prefetchCatalogs() {
  const codes = (await offeredLanguages()).map((l) => l.code).filter((code) => code !== "es");
  const fetched = {};
  for (const code of codes) {
    try {
      fetched[code] = { ...(await api.catalog(code)), code };
    } catch {
      // not now: the copy kept before, if any, stays
    }
  }
  if (!Object.keys(fetched).length || previewed()) return false;
  if (!openPhoneKey() && (await hasPin())) return false; // locked meanwhile: the sealed copies cannot be merged
  const before = (await kept.read("catalogs")) || {};
  await kept.keep("catalogs", { ...before, ...fetched });
  const language = (await db.getSetting("language")) || currentLocale();
  if (!fetched[language]) return false;
  await keepLockedWords(language, fetched[language]);
  if (language !== currentLocale() || JSON.stringify(before[language]) === JSON.stringify(fetched[language])) return false;
  applyLanguage(language, fetched[language]);
  return true;
}

// The server's languages: from the last bootstrap, else (locked, or not enrolled yet) from the shell page.
async function offeredLanguages() {
  const bootstrap = await kept.read("bootstrap");
  if (bootstrap && bootstrap.locales) return bootstrap.locales;
  try {
    return JSON.parse(root.dataset.languages || "[]");
  } catch {
    return [];
  }
}

async function phoneLanguage() {
  const offered = (await offeredLanguages()).map((l) => l.code);
  for (const tag of navigator.languages || []) {
    const lower = tag.toLowerCase();
    const primary = lower.split("-")[0];
    if (offered.includes(lower)) return lower;
    if (offered.includes(primary)) return primary;
  }
  return "es";
}

function applyLanguage(code, compiled) {
  if (code !== "es" && !compiled) throw new Error(`no catalog for ${code}`);
  setCatalog(code, code === "es" ? null : compiled);
  api.setLanguage(code);
}

// The catalog sealed beside the others; the locked screens' words from it in the clear (none of them says
// what the app is for).
async function keepCatalog(code, compiled) {
  if (previewed() || !compiled) return;
  await kept.keep("catalogs", { ...((await kept.read("catalogs")) || {}), [code]: { ...compiled, code } });
  await keepLockedWords(code, compiled);
}

async function keepLockedWords(code, compiled) {
  const messages = {};
  for (const msgid of LOCKED_WORDS) if (msgid in compiled.messages) messages[msgid] = compiled.messages[msgid];
  await db.setSetting("lockedWords", { ...compiled, code, messages });
}

async function switchLanguage(code, redraw) {
  try {
    const compiled = code === "es" ? null : await api.catalog(code).catch(async () => {
      const stored = await keptCatalog(code);
      if (stored) return stored;
      throw new Error("offline");
    });
    applyLanguage(code, compiled);
    await db.setSetting("language", code);
    if (compiled) await keepCatalog(code, compiled);
    else await db.deleteSetting("lockedWords");
  } catch {
    return redraw(t("Ese idioma no está en el teléfono todavía; conéctese una vez."));
  }
  return redraw("");
}
