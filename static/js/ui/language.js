// The language picker: switched without a reload, remembered on the phone, works offline.

import * as api from "../api.js";
import * as db from "../db.js";
import { currentLocale, setCatalog, t } from "../i18n.js";
import { el } from "./el.js";
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

// The phone's choice, else the phone's own language when the server offers it, else Spanish;
// ?lang=CODE previews a language (translators checking their work) without changing the phone's choice.
export async function startLanguage() {
  const preview = new URLSearchParams(location.search).get("lang");
  const language = preview || (await db.getSetting("language")) || (await phoneLanguage());
  if (language && language !== currentLocale()) await applyLanguage(language).catch(() => null);
}

// The server's languages: from the last bootstrap, else (not enrolled yet) from the shell page itself.
async function offeredLanguages() {
  const bootstrap = await db.getSetting("bootstrap");
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

async function applyLanguage(code) {
  setCatalog(code, code === "es" ? null : await api.catalog(code));
  api.setLanguage(code);
}

async function switchLanguage(code, redraw) {
  try {
    await applyLanguage(code);
    await db.setSetting("language", code);
  } catch {
    return redraw(t("Ese idioma no está en el teléfono todavía; conéctese una vez."));
  }
  return redraw("");
}
