// t(): the page's strings. Spanish is the source language; other languages come as JSON catalogs
// compiled from the same .po files as the server's (msgid -> msgstr), loaded with setCatalog().

let catalog = {};
let locale = "es";

export function setCatalog(code, messages) {
  locale = code;
  catalog = messages || {};
  document.documentElement.lang = code;
}

export function currentLocale() {
  return locale;
}

// Python-style named placeholders, as in the server's catalogs: t("%(n)s de %(total)s", {n, total}).
export function t(msgid, params = {}) {
  const text = catalog[msgid] || msgid;
  return text.replace(/%\((\w+)\)s/g, (_, name) => (name in params ? String(params[name]) : ""));
}

// Dates are formatted through Peruvian Spanish, the formatting fallback of every language shipped.
const FORMAT_LOCALE = "es-PE";

export function formatDate(isoDate) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Intl.DateTimeFormat(FORMAT_LOCALE, { dateStyle: "long" }).format(new Date(y, m - 1, d));
}
