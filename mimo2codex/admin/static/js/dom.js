// Building DOM without markup strings: every piece of data becomes a text node or an attribute value,
// so hostile text (model output, log bodies) can never become HTML.

/**
 * h("a", {href: "/x", class: "c", onclick: fn, dataset: {id: 1}}, "text", child)
 * Attributes starting with "on" are listeners; ``text`` sets textContent; null/false values are skipped.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [name, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) {
        continue;
      }
      if (name === "text") {
        el.textContent = String(value);
      } else if (name === "dataset") {
        Object.assign(el.dataset, value);
      } else if (name.startsWith("on") && typeof value === "function") {
        el.addEventListener(name.slice(2), value);
      } else if (name === "style") {
        throw new Error("no style attributes: the Content-Security-Policy forbids them; use a class");
      } else {
        el.setAttribute(name, value === true ? "" : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function $$(selector, root = document) {
  return Array.from(root.querySelectorAll(selector));
}

/** A <table> body from column specs: [{key, label, num?, render?(row) -> Node|string, className?}]. */
export function fillTable(table, columns, rows, emptyText) {
  clear(table);
  // a column hidden on narrow screens hides its header too
  const headClass = (c) => [c.num ? "num" : "", (c.className || "").includes("hide-narrow") ? "hide-narrow" : ""].join(" ").trim() || null;
  const head = h("thead", null, h("tr", null, columns.map((c) => h("th", { class: headClass(c), scope: "col" }, c.label))));
  const body = h("tbody");
  if (!rows.length) {
    body.append(h("tr", null, h("td", { class: "empty", colspan: columns.length }, emptyText)));
  }
  for (const row of rows) {
    const tr = h("tr");
    for (const c of columns) {
      const value = c.render ? c.render(row) : row[c.key];
      tr.append(h("td", { class: [c.num ? "num" : "", c.className || ""].join(" ").trim() || null }, value ?? "—"));
    }
    body.append(tr);
  }
  table.append(head, body);
  return body;
}
