// The screens of a locked phone, all under its look: the PIN pad, and the empty app a wiped phone (or the
// duress PIN) shows. Every word here stays readable while locked (LOCKED_WORDS), so none of them may say what
// the app is for.

import { t } from "../i18n.js";
import * as lock from "../lock.js";
import { askToConfirm } from "./confirm.js";
import { el } from "./el.js";
import { lookName } from "./look.js";
import { show } from "./screen.js";

// The msgids the locked screens use: their translations are the only words kept in the clear.
export const LOCKED_WORDS = [
  "PIN",
  "Abrir",
  "Borrar",
  "Teclado",
  "Olvidé el PIN",
  "PIN incorrecto.",
  "PIN incorrecto. Espere %(seconds)s segundos antes de volver a intentarlo.",
  "Se borrará todo lo de esta aplicación y necesitará un código nuevo para usarla.",
  "Borrar y empezar de nuevo",
  "Volver",
  "Nada por aquí todavía.",
  "Ajustes",
];

export function pinInput(id, label, extra = {}) {
  const input = el("input", { id, type: "password", autocomplete: "off", autocapitalize: "none", spellcheck: "false", class: "pin", ...extra });
  return [el("label", { for: id, text: label }), input];
}

// A pad within a thumb's reach at the bottom of the screen; the field also takes a keyboard (a passphrase).
function pinPad(input, open) {
  const type = (digit) => () => {
    input.value += digit;
    input.dispatchEvent(new Event("input"));
  };
  const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9"].map((d) => el("button", { type: "button", class: "key", onclick: type(d), text: d }));
  const erase = el("button", {
    type: "button",
    class: "key",
    "aria-label": t("Borrar"),
    onclick: () => (input.value = input.value.slice(0, -1)),
    text: "⌫",
  });
  const keyboard = el("button", {
    type: "button",
    class: "key small",
    onclick: () => {
      input.setAttribute("inputmode", "text");
      input.blur();
      input.focus();
    },
    text: t("Teclado"),
  });
  return el("div", { class: "pad" }, ...keys, erase, el("button", { type: "button", class: "key", onclick: type("0"), text: "0" }), open, keyboard);
}

// The screen a locked phone shows, under its look; `next` runs once the PIN opened the keys, `wiped` after a
// wipe, `duress` after the duress PIN (the caller shows the empty app).
export async function lockScreen(next, wiped, duress = wiped, { message = "" } = {}) {
  const [label, input] = pinInput("pin", t("PIN"), { inputmode: "none" });
  const problem = el("p", { class: "error", role: "alert", hidden: !message, text: message });
  const open = el("button", { type: "submit", class: "key primary", text: t("Abrir") });
  const forgot = el("button", { type: "button", class: "link", text: t("Olvidé el PIN"), onclick: forgotten });
  const form = el("form", { class: "pin-form locked", novalidate: true }, label, input, problem, pinPad(input, open), forgot);
  const say = (text) => {
    problem.textContent = text;
    problem.hidden = !text;
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (open.disabled) return;
    open.disabled = true;
    const outcome = await lock.tryPin(input.value);
    input.value = "";
    open.disabled = false;
    if (outcome === "locked") return; // a quick exit overtook the check: stay locked
    if (outcome === "open") return next();
    if (outcome === "wiped") return wiped();
    if (outcome === "duress") return duress();
    const wait = await lock.secondsToWait();
    say(
      wait
        ? t("PIN incorrecto. Espere %(seconds)s segundos antes de volver a intentarlo.", { seconds: wait })
        : t("PIN incorrecto."),
    );
  });
  async function forgotten() {
    const sure = await askToConfirm(t("Se borrará todo lo de esta aplicación y necesitará un código nuevo para usarla."), t("Borrar y empezar de nuevo"), t("Volver"));
    if (!sure) return;
    await lock.wipe();
    wiped();
  }
  show("lock", el("h1", { tabindex: "-1", text: lookName() }), form);
}

// What a wiped phone shows: an empty app under its look; "Ajustes" leads to a new enrolment.
export function emptyScreen(settings) {
  show(
    "empty",
    el("h1", { tabindex: "-1", text: lookName() }),
    el("p", { class: "hint", text: t("Nada por aquí todavía.") }),
    el("button", { type: "button", class: "secondary", onclick: settings, text: t("Ajustes") }),
  );
}
