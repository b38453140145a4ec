// The report form: answers live in memory only until they are sealed, then only the envelope is stored.

import { b64uDecode, sealDocument } from "../crypto.js";
import * as db from "../db.js";
import { t } from "../i18n.js";
import { localDate } from "../outbox.js";
import { outbox, requestBackgroundSync } from "../sync.js";
import { askToConfirm, dismissQuestion } from "./confirm.js";
import { el } from "./el.js";
import { buildForm, collectAnswers, validateForm } from "./form.js";
import { homeScreen } from "./home.js";
import { show, status } from "./screen.js";

let openForm = null; // { hasAnswers() } while a report form is on screen

// Back from a form goes home inside the app; a form with answers asks first.
window.addEventListener("popstate", () => {
  if (!openForm) return;
  if (openForm.saving) {
    history.pushState({ screen: "form" }, ""); // a report being sealed and stored is not thrown away halfway
    return;
  }
  if (!openForm.hasAnswers()) {
    closeForm({ viaHistory: false });
    return;
  }
  history.pushState({ screen: "form" }, ""); // Back already left the form's entry: stay on it while asking
  discardForm();
});

async function discardForm() {
  if (openForm.hasAnswers()) {
    const sure = await askToConfirm(
      t("¿Descartar este informe? Las respuestas se borrarán y no se guardará nada."),
      t("Descartar"),
      t("Seguir con el informe"),
    );
    if (!sure || !openForm) return;
  }
  closeForm({ viaHistory: true });
}

function closeForm({ viaHistory }) {
  openForm = null;
  dismissQuestion();
  if (viaHistory) history.back(); // the form's own history entry goes; popstate finds no form open
  return homeScreen();
}

// Why a report could not be stored, in words, with what to do; the form stays as it was.
function saveProblem(error) {
  if (error && error.name === "QuotaExceededError") {
    return t("El teléfono no tiene espacio libre: el informe no se guardó. Libere espacio (fotos, videos, otras aplicaciones) y toque «Guardar y cifrar» otra vez; sus respuestas siguen aquí.");
  }
  return t("No se pudo guardar el informe en el teléfono. Toque «Guardar y cifrar» otra vez; sus respuestas siguen aquí. Si vuelve a fallar, avise a su supervisor.");
}

export async function formScreen(quick) {
  const bootstrap = await db.getSetting("bootstrap");
  const definition = bootstrap && bootstrap.forms.find((f) => f.id === "trafficking-report");
  const key = bootstrap && bootstrap.keys.find((k) => k.current);
  if (!definition || !key) {
    status.problem = t("Falta el formulario: conéctese una vez para descargarlo.");
    return homeScreen();
  }
  status.notice = "";
  // The report's identity is made once per form: a double tap or a retry saves this one report, not two.
  const rid = crypto.randomUUID();
  const form = buildForm(definition, quick);
  const summary = el("p", { class: "error", role: "alert", hidden: true });
  const save = el("button", { type: "submit", class: "primary", text: t("Guardar y cifrar") });
  const discard = el("button", { type: "button", class: "secondary", onclick: discardForm, text: t("Descartar") });
  form.append(summary, el("div", { class: "actions" }, save, discard));
  const untouched = JSON.stringify(collectAnswers(form, definition, quick)); // defaults such as today's date
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (save.disabled) return;
    const problems = validateForm(form, definition, quick);
    if (problems.length) {
      summary.textContent = t("Revise las preguntas marcadas.");
      summary.hidden = false;
      form.querySelector(`[data-field="${problems[0].field}"]`).scrollIntoView();
      return;
    }
    save.disabled = discard.disabled = thisForm.saving = true;
    summary.hidden = true;
    try {
      await saveReport(definition, key, rid, collectAnswers(form, definition, quick));
    } catch (error) {
      summary.textContent = saveProblem(error);
      summary.hidden = false;
      save.disabled = discard.disabled = thisForm.saving = false;
      return;
    }
    status.notice = t("Informe guardado y cifrado. Ya no se puede leer en este teléfono.");
    await closeForm({ viaHistory: true });
    requestBackgroundSync();
    outbox.drain();
  });
  if (!openForm) history.pushState({ screen: "form" }, "");
  const thisForm = {
    saving: false,
    hasAnswers: () => JSON.stringify(collectAnswers(form, definition, quick)) !== untouched,
  };
  openForm = thisForm;
  show(quick ? "quick form" : "form", el("h1", { tabindex: "-1", text: quick ? t("Informe rápido") : t("Nuevo informe") }), form);
}

// Seal first, then store: nothing readable is ever written. One transaction: stored whole or not at all.
async function saveReport(definition, key, rid, answers) {
  const doc = {
    form: definition.id,
    form_version: definition.version,
    created_at: new Date().toISOString(),
    locale: document.documentElement.lang,
    answers,
    attachments: [],
  };
  const envelope = await sealDocument(doc, b64uDecode(key.pub), rid);
  await db.addToOutbox(envelope, localDate());
}
