// The screens of a locked phone, all under its look: the PIN pad, and the empty app a wiped phone (or the
// duress PIN) shows. Every word here stays readable while locked (LOCKED_WORDS), so none of them may say what
// the app is for.

import { t } from "../i18n.js";
import * as lock from "../lock.js";
import { askToConfirm } from "./confirm.js";
import { el } from "./el.js";
import { locksAsCalculator, lookName } from "./look.js";
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
  "más",
  "menos",
  "por",
  "entre",
  "igual",
  "Punto",
  "Borrar todo",
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
  if (locksAsCalculator() && !message) return calculatorScreen(next, wiped, duress);
  return pinScreen(next, wiped, duress, { message });
}

function pinScreen(next, wiped, duress, { message = "" } = {}) {
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

// --- the calculator look's lock: a calculator that works. The PIN typed as a number, then "=", opens the
// app; any other number is just a number (a wrong PIN still counts). Holding "C" shows the PIN screen (a
// passphrase, "Olvidé el PIN"). docs/FIELD-GUIDE.md tells the workers.

const HOLD_MS = 1500;
const OPERATORS = { "+": (a, b) => a + b, "−": (a, b) => a - b, "×": (a, b) => a * b, "÷": (a, b) => a / b };

// Left to right, × and ÷ before + and −; no eval. "Error" for what a calculator cannot show.
export function calculate(expression) {
  const tokens = expression.match(/[0-9.]+|[+−×÷]/g) || [];
  const numbers = [];
  const pending = [];
  for (const token of tokens) {
    if (OPERATORS[token]) pending.push(token);
    else numbers.push(Number(token));
  }
  if (!numbers.length || numbers.length !== pending.length + 1 || numbers.some(Number.isNaN)) return "Error";
  const sums = [numbers[0]];
  const signs = [];
  pending.forEach((op, i) => {
    if (op === "×" || op === "÷") sums.push(OPERATORS[op](sums.pop(), numbers[i + 1]));
    else {
      signs.push(op);
      sums.push(numbers[i + 1]);
    }
  });
  const result = signs.reduce((total, op, i) => OPERATORS[op](total, sums[i + 1]), sums[0]);
  return Number.isFinite(result) ? String(Number(result.toPrecision(12))) : "Error";
}

function calculatorScreen(next, wiped, duress) {
  let typed = "";
  const display = el("output", { class: "display", "aria-live": "polite", text: "0" });
  const showTyped = () => (display.textContent = typed || "0");
  const key = (text, onclick, extra = {}) => el("button", { type: "button", class: "key", onclick, text, ...extra });
  const digit = (d) => key(d, () => {
    typed += d;
    showTyped();
  });
  const operator = (op, label) =>
    key(op, () => {
      if (typed && !OPERATORS[typed.slice(-1)]) typed += op;
      showTyped();
    }, { "aria-label": label });
  async function equals() {
    if (/^[0-9]+$/.test(typed) && typed.length >= lock.MIN_PIN_LENGTH) {
      const pin = typed;
      typed = "";
      display.textContent = pin; // what a calculator shows for a plain number
      const outcome = await lock.tryPin(pin);
      if (outcome === "open") return next();
      if (outcome === "wiped") return wiped();
      if (outcome === "duress") return duress();
      return; // wrong, waiting or overtaken: a number, nothing more
    }
    const result = calculate(typed);
    display.textContent = result;
    typed = result === "Error" ? "" : result;
  }
  const clear = key("C", () => {
    typed = "";
    showTyped();
  }, { "aria-label": t("Borrar todo") });
  let held = null;
  clear.addEventListener("pointerdown", () => (held = setTimeout(() => pinScreen(next, wiped, duress), HOLD_MS)));
  for (const end of ["pointerup", "pointerleave", "pointercancel"]) clear.addEventListener(end, () => clearTimeout(held));
  const erase = key("⌫", () => {
    typed = typed.slice(0, -1);
    showTyped();
  }, { "aria-label": t("Borrar") });
  const pad = el(
    "div",
    { class: "pad calculator" },
    clear, erase, operator("÷", t("entre")), operator("×", t("por")),
    digit("7"), digit("8"), digit("9"), operator("−", t("menos")),
    digit("4"), digit("5"), digit("6"), operator("+", t("más")),
    digit("1"), digit("2"), digit("3"), key("=", equals, { class: "key primary", "aria-label": t("igual") }),
    digit("0"), key(".", () => {
      const last = typed.split(/[+−×÷]/).pop();
      if (!last.includes(".")) typed += last ? "." : "0.";
      showTyped();
    }, { "aria-label": t("Punto") }),
  );
  const body = el("div", { class: "calculator-body" }, display, pad);
  show("lock", el("h1", { tabindex: "-1", class: "visually-hidden", text: lookName() }), body);
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
