// The PIN screens: choosing one after enrolment, and the lock the app opens on.

import { t } from "../i18n.js";
import * as lock from "../lock.js";
import { askToConfirm } from "./confirm.js";
import { el } from "./el.js";
import { show } from "./screen.js";

function pinInput(id, label) {
  const input = el("input", { id, type: "password", autocomplete: "off", autocapitalize: "none", class: "pin" });
  return [el("label", { for: id, text: label }), input];
}

// Choosing the PIN: 6 digits or more (a passphrase is allowed), typed twice.
export function pinSetupScreen(next, { message = "" } = {}) {
  const [firstLabel, first] = pinInput("pin-new", t("PIN nuevo (6 cifras o más)"));
  const [againLabel, again] = pinInput("pin-again", t("El mismo PIN otra vez"));
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
    problem,
    working,
    choose,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (choose.disabled) return;
    const refusal =
      first.value.length < lock.MIN_PIN_LENGTH
        ? t("El PIN debe tener al menos %(count)s caracteres.", { count: lock.MIN_PIN_LENGTH })
        : first.value !== again.value
          ? t("Los dos PIN no coinciden.")
          : "";
    if (refusal) {
      problem.textContent = refusal;
      problem.hidden = false;
      return;
    }
    choose.disabled = true;
    problem.hidden = true;
    working.hidden = false;
    await lock.setPin(first.value);
    first.value = again.value = "";
    await next();
  });
  show("pin setup", el("h1", { tabindex: "-1", text: t("Elija un PIN") }), form);
  first.focus();
}

// The screen a locked phone shows; `next` runs once the PIN opened the data key, `wiped` after a wipe.
export async function lockScreen(next, wiped, { message = "" } = {}) {
  const [label, input] = pinInput("pin", t("PIN"));
  const problem = el("p", { class: "error", role: "alert", hidden: !message, text: message });
  const open = el("button", { type: "submit", class: "primary", text: t("Abrir") });
  const forgot = el("button", { type: "button", class: "secondary", text: t("Olvidé el PIN"), onclick: forgotten });
  const form = el("form", { class: "pin-form", novalidate: true }, label, input, problem, open, forgot);
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
    const wait = await lock.secondsToWait();
    say(
      wait
        ? t("PIN incorrecto. Espere %(seconds)s segundos antes de volver a intentarlo.", { seconds: wait })
        : t("PIN incorrecto."),
    );
    input.focus();
  });
  async function forgotten() {
    const sure = await askToConfirm(
      t("Sin el PIN se borrará lo que no se ha guardado. Los informes guardados se enviarán igual. Después necesitará un código nuevo."),
      t("Borrar y empezar de nuevo"),
      t("Volver"),
    );
    if (!sure) return;
    await lock.wipe();
    wiped();
  }
  show("lock", el("h1", { tabindex: "-1", text: t("Escriba su PIN") }), form);
  input.focus();
}
