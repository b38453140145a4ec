// An in-app question with two answers (not window.confirm, which an installed app shows as a browser's
// box): resolves true for `yes`. Escape, or Back, answers `no`; `no` has the focus, so a stray tap keeps.

import { el } from "./el.js";

let open = null;

export function askToConfirm(question, yes, no) {
  if (open) open.close(false);
  return new Promise((resolve) => {
    const dialog = el(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-question" },
      el("p", { id: "confirm-question", text: question }),
      el(
        "div",
        { class: "actions" },
        el("button", { type: "button", class: "secondary", onclick: () => close(false), text: no }),
        el("button", { type: "button", class: "danger", onclick: () => close(true), text: yes }),
      ),
    );
    const close = (answer) => {
      open = null;
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      close(false);
    });
    open = { close };
    document.body.append(dialog);
    dialog.showModal();
  });
}

// Answers an open question with `no` (the screen it was about is going away).
export function dismissQuestion() {
  if (open) open.close(false);
}
