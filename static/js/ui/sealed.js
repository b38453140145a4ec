// The screens with a worker's reports (home.js and report.js, which import each other, and attachments.js):
// their words tell what the app is for, so the service worker keeps them sealed to the phone's key, and they
// load only once the PIN has opened it (update.js opens them for the worker). What runs before reaches them through here.

import { t } from "../i18n.js";
import { el } from "./el.js";
import { show } from "./screen.js";

let loading = null;
let loaded = null;

function load() {
  loading =
    loading ||
    Promise.all([import("./home.js"), import("./report.js")]).then(
      ([home, report]) => (loaded = { ...home, ...report }),
      (error) => {
        loading = null;
        throw error;
      },
    );
  return loading;
}

export async function homeScreen() {
  try {
    await load();
  } catch {
    // Offline, with screens sealed to an earlier key: a new start (online) fetches them again.
    return show(
      "not loaded",
      el("p", { role: "alert", text: t("No se pudo abrir la aplicación. Conéctese a internet y ábrala otra vez.") }),
      el("button", { class: "primary", onclick: () => location.reload(), text: t("Reintentar") }),
    );
  }
  return loaded.homeScreen();
}

export function rerenderHomeIfShown() {
  if (loaded) loaded.rerenderHomeIfShown();
}

// The open form dropped (kept as a draft) or its last change kept now: there is none before they load.
export function dropForm() {
  return loaded ? loaded.dropForm() : Promise.resolve();
}

export function flushForm() {
  return loaded ? loaded.flushForm() : Promise.resolve();
}
