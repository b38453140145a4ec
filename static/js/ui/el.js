// The one way the field app builds DOM: el("p", { class: "hint", text: "…" }, child, [children], null).
// Empty children (null, false, undefined, "") are left out, never written as text.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === undefined || value === null) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...present(children));
  return node;
}

// The nodes worth showing in a list that may hold empty slots (a notice not shown, a card not needed).
export function present(children) {
  return children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false && child !== "");
}
