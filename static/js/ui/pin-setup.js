// Choosing the PIN, right after enrolment (the whole language is in memory then): its words are not among
// those a locked phone keeps readable.

import { t } from "../i18n.js";
import * as lock from "../lock.js";
import { el } from "./el.js";
import { pinInput } from "./lock.js";
import { show } from "./screen.js";

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
