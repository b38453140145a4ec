// Renders a report form from its definition and reads the answers back as codes (never labels).
// DOM only: no storage, no network, no crypto.

import { t } from "../i18n.js";
import { localDate } from "../outbox.js";
import { lengthCounter } from "./counter.js";
import { el } from "./el.js";

function fieldId(field) {
  return `f-${field.id}`;
}

function choiceList(field, type) {
  return el(
    "fieldset",
    { class: "choices", id: fieldId(field), "data-field": field.id },
    el("legend", { text: t(field.label) + (field.required ? " *" : "") }),
    field.hint ? el("p", { class: "hint", text: t(field.hint) }) : null,
    field.choices.map((choice) =>
      el(
        "label",
        { class: "choice" },
        el("input", { type, name: field.id, value: choice.code }),
        el("span", { text: t(choice.label) }),
      ),
    ),
    el("p", { class: "error", role: "alert", hidden: true }),
  );
}

function singleInput(field, input) {
  return el(
    "div",
    { class: "field", "data-field": field.id },
    el("label", { for: fieldId(field), text: t(field.label) + (field.required ? " *" : "") }),
    field.hint ? el("p", { class: "hint", id: `${fieldId(field)}-hint`, text: t(field.hint) }) : null,
    input,
    el("p", { class: "error", role: "alert", hidden: true }),
  );
}

function placeSelect(field, options) {
  const select = el("select", { id: fieldId(field), name: field.id }, el("option", { value: "", text: t("Elija…") }));
  for (const option of options) select.append(el("option", { value: option.code, text: option.label }));
  return select;
}

function renderField(field, definition) {
  switch (field.type) {
    case "single":
      return choiceList(field, "radio");
    case "multiple":
      return choiceList(field, "checkbox");
    case "boolean":
      return el(
        "div",
        { class: "field", "data-field": field.id },
        el(
          "label",
          { class: "choice strong" },
          el("input", { type: "checkbox", id: fieldId(field), name: field.id, value: "yes" }),
          el("span", { text: t(field.label) }),
        ),
        field.hint ? el("p", { class: "hint", text: t(field.hint) }) : null,
      );
    case "number":
      return singleInput(
        field,
        el("input", { id: fieldId(field), name: field.id, type: "number", inputmode: "numeric", min: field.min, max: field.max }),
      );
    case "date":
      return singleInput(
        field,
        el("input", {
          id: fieldId(field),
          name: field.id,
          type: "date",
          max: field.max === "today" ? localDate() : field.max,
          value: field.default === "today" ? localDate() : undefined,
        }),
      );
    case "department":
      return singleInput(field, placeSelect(field, definition.places.departments));
    case "province":
    case "district":
      return singleInput(field, placeSelect(field, []));
    case "text": {
      const textarea = el("textarea", {
        id: fieldId(field),
        name: field.id,
        rows: 4,
        maxlength: field.maxlength,
        "aria-describedby": field.hint ? `${fieldId(field)}-hint` : undefined,
      });
      return singleInput(field, field.maxlength ? [textarea, lengthCounter(textarea, field.maxlength)] : textarea);
    }
    default:
      return null;
  }
}

function relevant(field, answers) {
  const rule = field.relevant;
  if (!rule) return true;
  const value = answers[rule.field];
  if ("equals" in rule) return value === rule.equals;
  if ("includes" in rule) return Array.isArray(value) && value.includes(rule.includes);
  if ("includes_any" in rule) return Array.isArray(value) && rule.includes_any.some((c) => value.includes(c));
  return true;
}

function fieldsOf(definition, quick) {
  return definition.sections.flatMap((s) => s.fields).filter((f) => !quick || f.essential);
}

function readValue(form, field) {
  switch (field.type) {
    case "multiple":
      return [...form.querySelectorAll(`input[name="${field.id}"]:checked`)].map((i) => i.value);
    case "single": {
      const checked = form.querySelector(`input[name="${field.id}"]:checked`);
      return checked ? checked.value : null;
    }
    case "boolean":
      return form.querySelector(`input[name="${field.id}"]`).checked;
    case "number": {
      const raw = form.querySelector(`[name="${field.id}"]`).value;
      return raw === "" ? null : Number(raw);
    }
    default: {
      const raw = form.querySelector(`[name="${field.id}"]`).value.trim();
      return raw === "" ? null : raw;
    }
  }
}

// The answers as codes, only for questions that apply; irrelevant or empty ones are left out.
export function collectAnswers(form, definition, quick = false) {
  const answers = {};
  for (const field of fieldsOf(definition, quick)) {
    const value = readValue(form, field);
    if (!relevant(field, answers)) continue;
    if (value === null || value === false || (Array.isArray(value) && !value.length)) continue;
    answers[field.id] = value;
    // Minors are flagged on their own, so that a supervisor's filter does not depend on age bands.
    if (field.minor_codes && value.some((code) => field.minor_codes.includes(code))) answers.minors = true;
  }
  return answers;
}

// Shows what applies, fills dependent lists; returns nothing (the DOM is the state while editing).
export function updateForm(form, definition, quick = false) {
  const answers = {};
  for (const field of fieldsOf(definition, quick)) {
    const container = form.querySelector(`[data-field="${field.id}"]`);
    let show = relevant(field, answers);
    if (field.type === "province" || field.type === "district") {
      // Each list is under the code of the place it belongs to; a form may ship no districts at all.
      const lists = definition.places[field.type === "province" ? "provinces" : "districts"] || {};
      const options = lists[answers[field.depends_on]] || [];
      const select = container.querySelector("select");
      const key = options.map((o) => o.code).join(",");
      if (select.dataset.for !== key) {
        select.dataset.for = key;
        select.replaceChildren(el("option", { value: "", text: t("Elija…") }));
        for (const option of options) select.append(el("option", { value: option.code, text: option.label }));
      }
      show = show && options.length > 0;
    }
    container.hidden = !show;
    if (show) {
      const value = readValue(form, field);
      if (value !== null && value !== false && !(Array.isArray(value) && !value.length)) answers[field.id] = value;
    }
  }
}

// Saved answers back into a fresh form (a draft resumed), in the form's order so that dependent lists fill.
export function fillForm(form, definition, answers, quick = false) {
  for (const field of fieldsOf(definition, quick)) {
    const value = answers[field.id];
    if (value === undefined) continue;
    updateForm(form, definition, quick); // the list this answer is chosen from
    const inputs = [...form.querySelectorAll(`[name="${field.id}"]`)];
    if (field.type === "multiple") for (const input of inputs) input.checked = value.includes(input.value);
    else if (field.type === "single") for (const input of inputs) input.checked = input.value === value;
    else if (field.type === "boolean") inputs[0].checked = value === true;
    else {
      inputs[0].value = String(value);
      inputs[0].dispatchEvent(new Event("input")); // the length counter follows
    }
  }
  updateForm(form, definition, quick);
}

// Messages for what is missing or out of range; an empty list means the report can be saved.
export function validateForm(form, definition, quick = false) {
  const problems = [];
  for (const field of fieldsOf(definition, quick)) {
    const container = form.querySelector(`[data-field="${field.id}"]`);
    const error = container.querySelector(".error");
    let message = "";
    if (!container.hidden) {
      const value = readValue(form, field);
      const empty = value === null || value === false || (Array.isArray(value) && !value.length);
      if (field.required && empty) message = t("Responda esta pregunta.");
      else if (field.type === "number" && value !== null) {
        if (!Number.isInteger(value) || value < field.min || value > field.max)
          message = t("Escriba un número entero entre %(min)s y %(max)s.", { min: field.min, max: field.max });
      } else if (field.type === "date" && value && field.max === "today" && value > localDate()) {
        message = t("La fecha no puede ser posterior a hoy.");
      }
    }
    if (error) {
      error.textContent = message;
      error.hidden = !message;
    }
    if (message) problems.push({ field: field.id, message });
  }
  return problems;
}

export function buildForm(definition, quick = false) {
  const form = el("form", { class: "report-form", novalidate: true });
  for (const section of definition.sections) {
    const fields = section.fields.filter((f) => !quick || f.essential);
    if (!fields.length) continue;
    form.append(el("section", {}, el("h2", { text: t(section.title) }), fields.map((f) => renderField(f, definition))));
  }
  form.addEventListener("change", () => updateForm(form, definition, quick));
  updateForm(form, definition, quick);
  return form;
}
