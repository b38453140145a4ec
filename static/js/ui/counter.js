// What is left to write in a text box with a limit, so that nothing is cut off without the worker seeing it.

import { formatNumber, tn } from "../i18n.js";
import { el } from "./el.js";

export function lengthCounter(textarea, max) {
  const counter = el("p", { class: "counter", id: `${textarea.id}-count`, "data-testid": "counter" });
  const update = () => {
    const left = Math.max(0, max - textarea.value.length);
    const full = left === 0;
    counter.textContent = full
      ? tn(
          "Llegó al límite de %(count)s carácter: no se puede escribir más.",
          "Llegó al límite de %(count)s caracteres: no se puede escribir más.",
          max,
        )
      : tn("Queda %(count)s carácter de %(max)s.", "Quedan %(count)s caracteres de %(max)s.", left, { max: formatNumber(max) });
    counter.classList.toggle("full", full);
    // Announced only when it matters, not at every key.
    if (full) counter.setAttribute("aria-live", "polite");
    else counter.removeAttribute("aria-live");
  };
  textarea.addEventListener("input", update);
  update();
  return counter;
}
