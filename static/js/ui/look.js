// The look the phone was installed as ("Notas", "Clima", "Calculadora"): title, theme colour, icon and
// manifest follow it, from the shell page's own list, offline.

import * as db from "../db.js";
import { root } from "./screen.js";

function looks() {
  try {
    return JSON.parse(root.dataset.looks || "{}");
  } catch {
    return {};
  }
}

let current = null;
let currentId = null;

// A calculator's look (the shipped one, or the organisation's with its picture) locks as a calculator.
export function locksAsCalculator() {
  return Boolean(current && current.calculator);
}

export function lookName() {
  return (current && current.name) || document.title;
}

function setLink(rel, href) {
  const link = document.querySelector(`link[rel="${rel}"]`);
  if (link && href && link.getAttribute("href") !== href) link.setAttribute("href", href);
}

// `id` from the enrolment answer, or the phone's stored one, or the deployment's default.
export async function applyLook(id = null) {
  const all = looks();
  const chosen = id && all[id] ? id : (await db.getSetting("look")) || root.dataset.look;
  currentId = all[chosen] ? chosen : all[root.dataset.look] ? root.dataset.look : null;
  current = currentId ? all[currentId] : null;
  if (id && all[id]) await db.setSetting("look", id);
  if (!current) return;
  document.title = current.name;
  document.querySelector('meta[name="theme-color"]')?.setAttribute("content", current.theme_color);
  setLink("manifest", current.manifest);
  setLink("icon", current.icon);
}
