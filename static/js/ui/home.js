// Home: what waits to be sent, what the server refused, and the way to a new report.

import { makeBundle } from "../bundle.js";
import * as db from "../db.js";
import { draftHours, openDrafts } from "../drafts.js";
import { formatDate, t, tn } from "../i18n.js";
import { handOver } from "../files.js";
import * as kept from "../kept.js";
import { outbox } from "../sync.js";
import { askToConfirm } from "./confirm.js";
import { el } from "./el.js";
import { enrollScreen } from "./enrolment.js";
import { languagePicker } from "./language.js";
import { formScreen } from "./report.js";
import { show, shownScreen, status } from "./screen.js";
import { applyUpdate } from "./update.js";

// `refreshing`: only redraw it if it is still on screen once its data is read (the worker may have moved on).
export async function homeScreen(refreshing = false) {
  const [stored, lastSync, team, drafts, hours] = await Promise.all([
    db.outboxEntries(),
    kept.read("lastSync"),
    kept.read("team"),
    openDrafts(),
    draftHours(),
  ]);
  const entries = await Promise.all(stored.map(kept.openEntry));
  const queued = entries.filter((e) => e.state === "queued");
  const rejected = entries.filter((e) => e.state === "rejected");
  const items = [
    el("h1", { tabindex: "-1", text: t("Informes") }),
    status.notice ? el("p", { class: "notice", role: "status", text: status.notice }) : null,
    el(
      "div",
      { class: "actions" },
      el("button", { class: "primary", onclick: () => formScreen(false), text: t("Nuevo informe") }),
      el("button", { class: "secondary", onclick: () => formScreen(true), text: t("Informe rápido") }),
    ),
    drafts.length
      ? el(
          "section",
          { class: "card", "aria-labelledby": "drafts-title" },
          el("h2", { id: "drafts-title", text: t("Borradores") }),
          el(
            "ul",
            { class: "drafts" },
            drafts.map((draft) =>
              el(
                "li",
                {},
                el("button", {
                  type: "button",
                  class: "secondary",
                  onclick: () => formScreen(false, draft),
                  text: t("Seguir el borrador del %(date)s", { date: formatDate(localDay(draft.createdAt)) }),
                }),
              ),
            ),
          ),
          el("p", { class: "hint", text: tn("Se borra %(count)s hora después de empezado si no se guarda.", "Se borran %(count)s horas después de empezados si no se guardan.", hours) }),
        )
      : null,
    el(
      "section",
      { class: "card", "aria-labelledby": "outbox-title" },
      el("h2", { id: "outbox-title", text: t("Por enviar") }),
      el("p", { class: "count", "data-testid": "queued", text: String(queued.length) }),
      queued.some((e) => e.savedOn)
        ? el("p", { text: t("Guardado el primero: %(date)s", { date: formatDate(queued.map((e) => e.savedOn).filter(Boolean).sort()[0]) }) })
        : null,
      status.progress && !status.part
        ? el("p", { role: "status", text: t("%(sent)s de %(total)s enviados", status.progress) })
        : null,
      status.part ? partProgress(status.part, entries) : null,
      status.sent && !status.progress
        ? el("p", {
            role: "status",
            "data-testid": "sent",
            text: tn("%(count)s informe enviado", "%(count)s informes enviados", status.sent),
          })
        : null,
      el("p", { "data-testid": "last-sync", text: lastSync ? t("Último envío: %(date)s", { date: formatDate(lastSync) }) : t("Aún no se ha enviado nada.") }),
      status.waiting ? el("p", { class: "waiting", role: "status", text: status.waiting }) : null,
      status.stalled
        ? el("p", { class: "waiting", role: "status", text: t("El servidor tarda en responder. «Enviar ahora» lo intenta de nuevo sin esperar más.") })
        : null,
      status.problem ? el("p", { class: "error", role: "alert", text: status.problem }) : null,
      status.keysRefused
        ? el("p", {
            class: "error",
            role: "alert",
            "data-testid": "keys-refused",
            text: t("El servidor envió claves que su organización no firmó. El teléfono sigue cifrando con las de antes y guarda sus informes. Avise a su supervisor."),
          })
        : null,
      el("button", {
        class: "secondary",
        onclick: () => outbox.sendNow(),
        disabled: !queued.length || (status.syncing && !status.stalled),
        text: t("Enviar ahora"),
      }),
      queued.length
        ? el("button", { class: "secondary", "data-testid": "to-file", onclick: () => saveToFile(queued), text: t("Guardar en un archivo") })
        : null,
    ),
    rejected.length
      ? el(
          "section",
          { class: "card warning" },
          el("h2", {
            text: tn("%(count)s informe no aceptado por el servidor", "%(count)s informes no aceptados por el servidor", rejected.length),
          }),
          el(
            "ul",
            { class: "rejected" },
            rejected.map((e) =>
              el(
                "li",
                {},
                el("span", { text: `${e.savedOn ? `${formatDate(e.savedOn)}: ` : ""}${e.error || t("El servidor no dio el motivo.")}` }),
                el("button", { type: "button", class: "secondary", onclick: () => removeRejected(e.rid), text: t("Borrar del teléfono") }),
              ),
            ),
          ),
          el("p", { class: "hint", text: t("Se conservan en el teléfono y se vuelven a enviar cuando el servidor cambia. Avise a su supervisor.") }),
        )
      : null,
    status.disconnected
      ? el(
          "section",
          { class: "card warning", role: "alert" },
          el("p", { text: t("Este teléfono fue desconectado del equipo. Sus informes se conservan; pida un código nuevo.") }),
          el("button", { class: "secondary", onclick: () => enrollScreen(), text: t("Conectar de nuevo") }),
        )
      : null,
    status.updateReady
      ? el(
          "section",
          { class: "card" },
          el("p", { text: t("Hay una versión nueva de la aplicación.") }),
          el("button", { class: "secondary", onclick: applyUpdate, disabled: status.syncing, text: t("Actualizar") }),
        )
      : null,
    el(
      "p",
      { class: "hint", "data-testid": "storage" },
      status.persisted === true
        ? t("Almacenamiento persistente: concedido.")
        : t("Almacenamiento persistente: no concedido; el navegador podría borrar datos si falta espacio."),
    ),
    team ? el("p", { class: "hint", text: t("Equipo: %(team)s", { team }) }) : null,
    await languagePicker((message) => {
      if (message) status.problem = message;
      return homeScreen();
    }),
  ];
  if (refreshing && shownScreen() !== "home") return;
  show("home", ...items);
}

// "audio 2 de 4 partes", with a bar: the part on its way now, of one attachment of a report.
function partProgress(part, entries) {
  const entry = entries.find((e) => e.rid === part.rid);
  const kind = entry && entry.kinds ? entry.kinds[part.aid] : null;
  const params = { part: part.index, parts: part.chunks };
  const text =
    kind === "photo"
      ? t("foto %(part)s de %(parts)s partes", params)
      : kind === "audio"
        ? t("audio %(part)s de %(parts)s partes", params)
        : t("adjunto %(part)s de %(parts)s partes", params);
  return el(
    "div",
    { class: "part-progress", role: "status", "data-testid": "part-progress" },
    el("p", { text }),
    el("progress", { max: String(part.chunks), value: String(part.index - 1), "aria-label": text }),
  );
}

function localDay(time) {
  const started = new Date(time);
  return new Date(started.getTime() - started.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

// Where no server is in reach: the reports waiting, sealed, in one file to carry to the base (USB cable,
// Bluetooth). They stay in the outbox: only a server's answer removes them, and the base's import makes it
// a "duplicate" later, so a lost file loses nothing.
async function saveToFile(queued) {
  status.problem = "";
  try {
    const bytes = await makeBundle(queued, db.getPart);
    const outcome = await handOver(bytes, `copia-${localDay(Date.now())}.zip`);
    if (outcome !== "cancelled") {
      status.notice = tn(
        "%(count)s informe en el archivo. Sigue en el teléfono hasta que el servidor lo confirme; borre el archivo cuando lo haya entregado.",
        "%(count)s informes en el archivo. Siguen en el teléfono hasta que el servidor los confirme; borre el archivo cuando lo haya entregado.",
        queued.length,
      );
    }
  } catch {
    status.problem = t("No se pudo preparar el archivo. Vuelva a intentarlo.");
  }
  return homeScreen();
}

// A refused report is gone for good once removed (the server does not have it): asked first.
async function removeRejected(rid) {
  const sure = await askToConfirm(
    t("¿Borrar este informe del teléfono? El servidor no lo tiene: se perderá para siempre."),
    t("Borrar"),
    t("Conservar"),
  );
  if (sure) await db.removeFromOutbox([rid]);
  await homeScreen();
}


export function rerenderHomeIfShown() {
  if (shownScreen() === "home") homeScreen(true);
}
