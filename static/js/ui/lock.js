// The screens of a locked phone, all under its look: choosing a PIN, the PIN pad, and the empty app a wiped
// phone (or the duress PIN) shows. Every word here stays readable while locked (LOCKED_WORDS), so none of
// them may say what the app is for.

import { t } from "../i18n.js";
import * as lock from "../lock.js";
import { askToConfirm } from "./confirm.js";
import { el } from "./el.js";
import { lookName } from "./look.js";
import { show } from "./screen.js";

// The msgids the locked screens use: their translations are the only words kept in the clear.
export const LOCKED_WORDS = [
  "PIN nuevo (6 cifras o más)",
  "El mismo PIN otra vez",
  "Preparando el bloqueo…",
  "Guardar el PIN",
  "El PIN debe tener al menos %(count)s caracteres.",
  "Los dos PIN no coinciden.",
  "Elija un PIN",
  "El PIN protege lo que escribe en este teléfono. Sin él nadie puede abrir la aplicación.",
  "PIN de emergencia (opcional)",
  "Si alguien le obliga a abrir la aplicación, este otro PIN la abre vacía y borra en silencio lo que no se ha enviado.",
  "El PIN de emergencia debe ser distinto del PIN.",
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

function pinInput(id, label, extra = {}) {
  const input = el("input", { id, type: "password", autocomplete: "off", autocapitalize: "none", spellcheck: "false", class: "pin", ...extra });
  return [el("label", { for: id, text: label }), input];
}

// Choosing the PIN: 6 characters or more (digits or a passphrase), typed twice; a duress PIN if allowed.
export async function pinSetupScreen(next, { message = "" } = {}) {
  const duressAllowed = (await lock.rules()).duress_pin;
  const [firstLabel, first] = pinInput("pin-new", t("PIN nuevo (6 cifras o más)"));
  const [againLabel, again] = pinInput("pin-again", t("El mismo PIN otra vez"));
  const [duressLabel, duress] = duressAllowed ? pinInput("pin-duress", t("PIN de emergencia (opcional)"), { "aria-describedby": "duress-hint" }) : [null, null];
  const problem = el("p", { class: "error", role: "alert", hidden: !message, text: message });
  const working = el("p", { role: "status", hidden: true, text: t("Preparando el bloqueo…") });
  const choose = el("button", { type: "submit", class: "primary", text: t("Guardar el PIN") });
  const form = el(
    "form",
    { class: "pin-form", novalidate: true },
    el("p", { text: t("El PIN protege lo que escribe en este teléfono. Sin él nadie puede abrir la aplicación.") }),
    firstLabel,
    first,
    againLabel,
    again,
    duressLabel,
    duress,
    duress ? el("p", { id: "duress-hint", class: "hint", text: t("Si alguien le obliga a abrir la aplicación, este otro PIN la abre vacía y borra en silencio lo que no se ha enviado.") }) : null,
    problem,
    working,
    choose,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (choose.disabled) return;
    const second = duress ? duress.value : "";
    const refusal =
      first.value.length < lock.MIN_PIN_LENGTH
        ? t("El PIN debe tener al menos %(count)s caracteres.", { count: lock.MIN_PIN_LENGTH })
        : first.value !== again.value
          ? t("Los dos PIN no coinciden.")
          : second && second.length < lock.MIN_PIN_LENGTH
            ? t("El PIN debe tener al menos %(count)s caracteres.", { count: lock.MIN_PIN_LENGTH })
            : second && second.normalize("NFKC") === first.value.normalize("NFKC")
              ? t("El PIN de emergencia debe ser distinto del PIN.")
              : "";
    if (refusal) {
      problem.textContent = refusal;
      problem.hidden = false;
      return;
    }
    choose.disabled = true;
    problem.hidden = true;
    working.hidden = false;
    await lock.setPin(first.value, second);
    first.value = again.value = "";
    if (duress) duress.value = "";
    await next();
  });
  show("pin setup", el("h1", { tabindex: "-1", text: t("Elija un PIN") }), form);
  first.focus();
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
    el("button", { type: "button", class: "link", onclick: settings, text: t("Ajustes") }),
  );
}
