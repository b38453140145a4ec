// Enrolment: the one-time code (typed or scanned), retried safely when an answer is lost.

import * as api from "../api.js";
import { b64uEncode, fingerprintText } from "../crypto.js";
import * as db from "../db.js";
import { t } from "../i18n.js";
import * as kept from "../kept.js";
import { openKey } from "../lock.js";
import { outbox, refreshBootstrap } from "../sync.js";
import { el } from "./el.js";
import { languagePicker, prefetchCatalogs, startLanguage } from "./language.js";
import { pinSetupScreen } from "./pin-setup.js";
import { applyLook } from "./look.js";
import { canScanQr, scanQr } from "./scanner.js";
import { show, status } from "./screen.js";
import { homeScreen } from "./sealed.js";
import { sealScreens } from "./update.js";

// `typed` is kept whatever happens; `retry` after a failure that was not a refusal (the code still holds).
export async function enrollScreen({ message = "", typed = "", retry = false } = {}) {
  const input = el("input", {
    id: "code",
    name: "code",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
    required: true,
    value: typed || undefined,
    "aria-describedby": "code-hint",
  });
  const submit = el("button", { type: "submit", class: "primary", text: retry ? t("Reintentar") : t("Conectar este teléfono") });
  const form = el(
    "form",
    {
      class: "card",
      onsubmit: async (event) => {
        event.preventDefault();
        if (submit.disabled) return;
        submit.disabled = true;
        await enroll(input.value);
      },
    },
    el("label", { for: "code", text: t("Código de inscripción") }),
    el("p", { id: "code-hint", class: "hint", text: t("Se lo da su supervisor. Por ejemplo: 8HAV-8PKE-PY.") }),
    input,
    message ? el("p", { class: "error", role: "alert", text: message }) : null,
    submit,
    canScanQr() ? el("button", { type: "button", class: "secondary", onclick: scanScreen, text: t("Escanear código QR") }) : null,
  );
  show("enrol", el("h1", { tabindex: "-1", text: t("Conectar con su equipo") }), form, await languagePicker((message) => enrollScreen({ typed: input.value, message })));
}

function scanScreen() {
  const abort = new AbortController();
  const video = el("video", { class: "scanner", playsinline: true, muted: true, "aria-label": t("Cámara") });
  show(
    "scan",
    el("h1", { tabindex: "-1", text: t("Escanear código QR") }),
    el("p", { text: t("Apunte la cámara al código que muestra su supervisor.") }),
    video,
    el("button", { class: "secondary", onclick: () => abort.abort(), text: t("Cancelar") }),
  );
  scanQr(video, abort.signal).then(
    (code) => (code ? enroll(code) : enrollScreen()),
    () => enrollScreen({ message: t("No se pudo usar la cámara. Escriba el código.") }),
  );
}

// The code as the server reads it (case, spaces and dashes ignored, look-alikes folded), to tell a retry of
// the same code from a new one.
function canonicalCode(code) {
  return code.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
}

// One enrollment_id per code tried, kept on the phone: a retry after a lost answer (even after a reload)
// sends the same pair, and the server answers with the same phone instead of a spent code. Only a digest of
// the code is kept: a phone taken before the code is spent must not hand it over.
async function enrollmentIdFor(code) {
  const digest = b64uEncode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonicalCode(code)))));
  const pending = await db.getSetting("enrollment");
  if (pending && pending.digest === digest) return pending.id;
  const id = b64uEncode(crypto.getRandomValues(new Uint8Array(16)));
  await db.setSetting("enrollment", { digest, id });
  return id;
}

// An enrolment QR reads "CODE#FINGERPRINT": the organisation's signing key, which the phone then insists on.
export function splitScanned(text) {
  const found = /^(.*)#([0-9a-f]{32})$/.exec(text.trim());
  return found ? { code: found[1], expected: found[2] } : { code: text.trim(), expected: null };
}

// A typed code brings no fingerprint: the worker compares the one the phone got with the supervisor's screen.
function compareScreen(fingerprint) {
  return new Promise((resolve) => {
    show(
      "enrol",
      el("h1", { tabindex: "-1", text: t("Compare esta huella") }),
      el("p", { text: t("Su supervisor ve la huella de su organización junto al código. Deben ser iguales:") }),
      el("p", { class: "code", "data-testid": "fingerprint", text: fingerprintText(fingerprint) }),
      el("button", { type: "button", class: "primary", onclick: () => resolve(true), text: t("Son iguales") }),
      el("button", { type: "button", class: "secondary", onclick: () => resolve(false), text: t("No son iguales") }),
    );
  });
}

// An enrolment this phone will not keep: a server that is not the organisation's. A pin the phone had before
// stays (a server that could clear it could then pin its own key); only the one this enrolment made goes.
async function forgetEnrolment(pinBefore) {
  await db.deleteSetting("deviceToken");
  if (!pinBefore) await db.deleteSetting("signer");
  await db.deleteSetting("expectedSigner");
  kept.forget();
}

const NOT_OURS = () => t("Este servidor no tiene la firma de su organización. No use este código y avise a su supervisor.");

async function enroll(scanned) {
  const { code, expected } = splitScanned(scanned);
  const typed = code;
  let answer;
  try {
    answer = await api.enroll(typed, await enrollmentIdFor(typed));
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 403) {
      return enrollScreen({ message: t("El código no es válido, ya se usó o caducó."), typed });
    }
    const busy = error instanceof api.ApiError && (error.status >= 500 || error.status === 429);
    if (error instanceof api.ApiError && !busy) return enrollScreen({ message: error.message, typed });
    return enrollScreen({
      message: busy
        ? t("El servidor está ocupado. Toque «Reintentar» en un momento; el código sigue sirviendo.")
        : t("No hay conexión con el servidor. Toque «Reintentar» cuando tenga señal; el código sigue sirviendo."),
      typed,
      retry: true,
    });
  }
  await db.setSetting("deviceToken", answer.device_token);
  await kept.keep("team", answer.team);
  await applyLook(typeof answer.look === "string" ? answer.look : null);
  await db.deleteSetting("enrollment");
  await db.deleteSetting("wiped");
  // The code is spent now; if keys and forms do not arrive, they are fetched again at start and after sync.
  const pinBefore = await db.getSetting("signer");
  // A QR's fingerprint is kept until a list verifies against it: a first bootstrap lost on the way must not drop it.
  if (expected) await db.setSetting("expectedSigner", expected);
  const outcome = await refreshBootstrap(answer.device_token).catch(() => null);
  if (outcome === "refused") {
    await forgetEnrolment(pinBefore);
    return enrollScreen({ message: NOT_OURS() });
  }
  status.disconnected = false;
  await requestPersistence();
  outbox.reconnected();
  await startLanguage();
  // At base, connected: every language is fetched now (a few seconds at most), to switch between them offline.
  await Promise.race([prefetchCatalogs().catch(() => null), new Promise((resolve) => setTimeout(resolve, 15000))]);
  const boot = await kept.read("bootstrap");
  if (!expected && boot && boot.signer && !(await compareScreen(boot.signer))) {
    await forgetEnrolment(pinBefore);
    return enrollScreen({ message: NOT_OURS() });
  }
  // A phone connected again after a revocation keeps its PIN (and the drafts sealed under it).
  if (openKey()) {
    await sealScreens(); // the key may be new since the worker sealed them (a duress PIN's empty app)
    await homeScreen();
  }
  else pinSetupScreen(async () => {
    await kept.flush(); // the team, the bootstrap and the catalog, held in memory until now
    await sealScreens(); // the phone has its key now: from here on it works offline
    await homeScreen();
  });
}


export async function requestPersistence() {
  if (navigator.storage && navigator.storage.persist) {
    status.persisted = (await navigator.storage.persisted()) || (await navigator.storage.persist());
  }
}
