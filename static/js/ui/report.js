// The report form: answers are kept as a draft sealed under the PIN's key within a second of each change,
// and saving seals the report to the organisation key and ends the draft in one transaction.

import { sealForServer } from "../attachments.js";
import { b64uDecode, sealDocument, versionFor } from "../crypto.js";
import * as db from "../db.js";
import { SAVE_DELAY_MS, discardDraft, keepDraft } from "../drafts.js";
import { t } from "../i18n.js";
import * as kept from "../kept.js";
import { openKey } from "../lock.js";
import { localDate } from "../outbox.js";
import { outbox, requestBackgroundSync } from "../sync.js";
import { attachmentsPanel } from "./attachments.js";
import { askToConfirm, dismissQuestion } from "./confirm.js";
import { el } from "./el.js";
import { buildForm, collectAnswers, fillForm, validateForm } from "./form.js";
import { homeScreen } from "./home.js";
import { show, status } from "./screen.js";

let openForm = null; // { hasAnswers(), saving, rid, stop() } while a report form is on screen
// Closing a form steps back over its history entry; that step arrives later, maybe after the next form
// opened, and must not close that one.
let ownStepsBack = 0;

// Back from a form goes home inside the app; a form with answers asks first.
window.addEventListener("popstate", () => {
  if (ownStepsBack > 0) {
    ownStepsBack -= 1;
    return;
  }
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

function closeForm({ viaHistory, draftEnded = false }) {
  if (openForm) {
    const { rid } = openForm;
    const settled = openForm.stop(); // a recording under way ends first, so that no slice lands after the discard
    if (!draftEnded) settled.then(() => discardDraft(rid));
  }
  openForm = null;
  dismissQuestion();
  if (viaHistory) {
    ownStepsBack += 1;
    history.back(); // the form's own history entry goes
  }
  return homeScreen();
}

// Why a report could not be stored, in words, with what to do; the form stays as it was.
function saveProblem(error) {
  if (error && error.name === "QuotaExceededError") {
    return t("El teléfono no tiene espacio libre: el informe no se guardó. Libere espacio (fotos, videos, otras aplicaciones) y toque «Guardar y cifrar» otra vez; sus respuestas siguen aquí.");
  }
  return t("No se pudo guardar el informe en el teléfono. Toque «Guardar y cifrar» otra vez; sus respuestas siguen aquí. Si vuelve a fallar, avise a su supervisor.");
}

// The form on screen is dropped (the phone locks): its draft stays to be resumed, with the change made in
// the last half second written first. Call it before the keys go.
export async function dropForm() {
  if (!openForm) return;
  const dropped = openForm;
  openForm = null;
  dismissQuestion();
  await dropped.flush();
  await dropped.stop();
}

// The open form's last change kept now (the app is being hidden: Android may kill it).
export function flushForm() {
  return openForm ? openForm.flush() : Promise.resolve();
}

// A new report, or `resumed` = { rid, content: { answers, quick }, createdAt } from the drafts.
export async function formScreen(quick, resumed = null) {
  const bootstrap = await kept.read("bootstrap");
  // The phone's one form is the first the server offers (its id is not written here: this file is cached in the clear).
  const definition = bootstrap && bootstrap.forms[0];
  const key = bootstrap && bootstrap.keys.find((k) => k.current);
  if (!definition || !key) {
    status.problem = t("Falta el formulario: conéctese una vez para descargarlo.");
    return homeScreen();
  }
  status.notice = "";
  if (resumed) quick = Boolean(resumed.content.quick);
  // The report's identity is made once per form: a double tap, a retry or a resumed draft saves one report.
  const rid = resumed ? resumed.rid : crypto.randomUUID();
  const createdAt = resumed ? resumed.createdAt : Date.now();
  const form = buildForm(definition, quick);
  const summary = el("p", { class: "error", role: "alert", hidden: true });
  const save = el("button", { type: "submit", class: "primary", text: t("Guardar y cifrar") });
  const discard = el("button", { type: "button", class: "secondary", onclick: discardForm, text: t("Descartar") });
  const media = attachmentsPanel({
    draftId: rid,
    dataKey: openKey,
    changed: ({ now }) => {
      if (!now) return keep();
      clearTimeout(pending);
      pending = null;
      if (openForm === thisForm && !thisForm.saving) write();
    },
  });
  form.append(media.element, summary, el("div", { class: "actions" }, save, discard));
  const untouched = JSON.stringify(collectAnswers(form, definition, quick)); // defaults such as today's date
  if (resumed) fillForm(form, definition, resumed.content.answers, quick);
  let pending = null; // the draft write waiting for the typing to pause
  let writing = Promise.resolve(); // the draft write under way: a save waits for it, so none lands after
  const write = () => {
    writing = keepDraft(rid, { answers: collectAnswers(form, definition, quick), quick }, createdAt).catch(() => null);
    return writing;
  };
  const keep = () => {
    clearTimeout(pending);
    pending = setTimeout(() => {
      pending = null;
      if (openForm === thisForm && !thisForm.saving) write();
    }, SAVE_DELAY_MS);
  };
  form.addEventListener("input", keep);
  form.addEventListener("change", keep);
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
    clearTimeout(pending); // no draft write may follow the save
    pending = null;
    summary.hidden = true;
    await writing;
    try {
      const answers = collectAnswers(form, definition, quick);
      await saveReport(definition, key, versionFor(bootstrap), rid, answers, await media.media());
    } catch (error) {
      summary.textContent = saveProblem(error);
      summary.hidden = false;
      save.disabled = discard.disabled = thisForm.saving = false;
      return;
    }
    status.notice = t("Informe guardado y cifrado. Ya no se puede leer en este teléfono.");
    await closeForm({ viaHistory: true, draftEnded: true }); // the save ended the draft already
    requestBackgroundSync();
    outbox.drain();
  });
  if (!openForm) history.pushState({ screen: "form" }, "");
  const thisForm = {
    saving: false,
    rid,
    hasAnswers: () => media.hasMedia() || JSON.stringify(collectAnswers(form, definition, quick)) !== untouched,
    // Nothing more is written, and nothing decrypted stays reachable; resolves once a recording has ended.
    stop() {
      clearTimeout(pending);
      const settled = media.settle();
      media.close();
      media.forget();
      return settled;
    },
    // The answers are read now, before the caller drops the keys; the sealing may finish after. A
    // recording ends here too (hidden, the browser cuts the microphone): what was said is kept.
    flush() {
      const settled = media.settle();
      if (pending === null || thisForm.saving) return Promise.all([writing, settled]);
      clearTimeout(pending);
      pending = null;
      return Promise.all([write(), settled]);
    },
  };
  openForm = thisForm;
  if (resumed) media.load();
  show(quick ? "quick form" : "form", el("h1", { tabindex: "-1", text: quick ? t("Informe rápido") : t("Nuevo informe") }), form);
}

// Seal first, then store: nothing readable is ever written. One transaction: stored whole or not at all, the
// recordings' and photos' chunks with it.
async function saveReport(definition, key, version, rid, answers, media) {
  const { entries, att, parts } = await sealForServer(rid, media, version);
  const doc = {
    form: definition.id,
    form_version: definition.version,
    created_at: new Date().toISOString(),
    locale: document.documentElement.lang,
    answers,
    attachments: entries,
  };
  const envelope = await sealDocument(doc, b64uDecode(key.pub), rid, att, version);
  const kinds = Object.fromEntries(entries.map((entry) => [entry.aid, entry.kind]));
  // The draft and its pieces end in the same transaction.
  await db.addToOutboxFromDraft(envelope, await kept.savedNote(rid, localDate(), kinds), rid, parts);
}
