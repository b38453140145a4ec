// t() and tn(): the page's strings. Spanish is the source language; other languages come as JSON catalogs
// compiled from the same .po files as the server's, with the fallback chain already applied.

import { compilePluralRule } from "./plural.js";

const SOURCE = { code: "es", cldr: "es_PE", formats: ["es_PE"], direction: "ltr", plurals: {}, messages: {} };
let active = SOURCE;
let rules = {};
let formatLocale = "es-PE";

// The first of the language's formatting locales this browser has data for (cheap phones lack many).
function pickFormatLocale(formats) {
  for (const cldr of formats) {
    const tag = cldr.replaceAll("_", "-");
    try {
      if (Intl.DateTimeFormat.supportedLocalesOf([tag]).length) return tag;
    } catch {
      // not a tag this browser can read: try the next one
    }
  }
  return "es-PE";
}

// compiled: { code, cldr, formats: [cldr, …], direction, plurals: {lang: expression}, messages: {msgid: text | {lang, forms}} }
export function setCatalog(code, compiled) {
  const catalog = { ...SOURCE, ...(compiled || {}), code };
  const compiledRules = {};
  for (const [lang, expression] of Object.entries(catalog.plurals)) compiledRules[lang] = compilePluralRule(expression);
  active = catalog;
  rules = compiledRules;
  formatLocale = pickFormatLocale(catalog.formats || [catalog.cldr]);
  document.documentElement.lang = code;
  document.documentElement.dir = catalog.direction === "rtl" ? "rtl" : "ltr";
}

export function currentLocale() {
  return active.code;
}

function lookup(msgid) {
  return Object.prototype.hasOwnProperty.call(active.messages, msgid) ? active.messages[msgid] : undefined;
}

// Python-style named placeholders, as in the server's catalogs: t("%(n)s de %(total)s", {n, total}).
function fill(text, params) {
  return text.replace(/%\((\w+)\)s/g, (_, name) => (name in params ? String(params[name]) : ""));
}

export function t(msgid, params = {}) {
  const text = lookup(msgid);
  return fill(typeof text === "string" ? text : msgid, params);
}

// The form for count, chosen by the rule of the language the translation comes from; %(count)s is filled in.
export function tn(singular, plural, count, params = {}) {
  const entry = lookup(singular);
  let text = count === 1 ? singular : plural; // the source's own two forms
  if (entry && typeof entry === "object" && rules[entry.lang]) {
    text = entry.forms[rules[entry.lang](count)] ?? text;
  }
  return fill(text, { count: formatNumber(count), ...params });
}

// Dates and numbers through the language's CLDR formatting locale (es_PE for the languages CLDR lacks).
export function formatNumber(value) {
  return new Intl.NumberFormat(formatLocale).format(value);
}

export function formatDate(isoDate) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Intl.DateTimeFormat(formatLocale, { dateStyle: "long" }).format(new Date(y, m - 1, d));
}
