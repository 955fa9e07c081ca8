// Small pieces several pages share.
import { h } from "./dom.js";
import { has, t } from "./i18n.js";

/** A status badge: an HTTP status (200, 429...) with its error code, or a health word. */
export function statusBadge(status, code) {
  if (typeof status === "number") {
    const cls = status >= 500 ? "bad" : status >= 400 ? "warn" : "ok";
    return h("span", { class: `badge ${cls}`, title: code || null }, code ? `${status} ${code}` : String(status));
  }
  const word = status || "unknown";
  const cls = { ok: "ok", healthy: "ok", degraded: "warn", failing: "bad", down: "bad", idle: "" }[word] ?? "";
  return h("span", { class: `badge ${cls}` }, has(`health.${word}`) ? t(`health.${word}`) : word);
}

/** Fill a <dl> with label/value pairs (each pair in its own <div>, so a grid keeps them together). */
export function metaList(dl, pairs) {
  dl.replaceChildren(
    ...pairs
      .filter(Boolean)
      .map(([label, value]) => h("div", null, h("dt", null, label), h("dd", null, value === null || value === undefined || value === "" ? "—" : value))),
  );
}

/** Show an API error next to the form field it names (``param``), or in the form's notice. */
export function showFieldError(form, error, notice) {
  clearFieldErrors(form);
  const param = error.param || "";
  const name = param.split(/[.[\]]/).filter(Boolean).pop();
  const input = name ? form.querySelector(`[name="${CSS.escape(name)}"]`) : null;
  if (input) {
    const field = input.closest(".field");
    field?.classList.add("invalid");
    input.setAttribute("aria-invalid", "true");
    const slot = field?.querySelector(".error");
    if (slot) {
      slot.textContent = error.message;
    }
    input.focus();
  }
  if (notice) {
    notice.className = "notice bad";
    notice.textContent = error.message;
  }
}

export function clearFieldErrors(form) {
  for (const field of form.querySelectorAll(".field.invalid")) {
    field.classList.remove("invalid");
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
  }
  for (const slot of form.querySelectorAll(".field .error")) {
    slot.textContent = "";
  }
}

/** Empty a result notice when its form is sent again: an old message must never pass for the new answer. */
export function clearNotice(el) {
  el.className = "notice";
  el.textContent = "";
}

export function notify(el, message, ok = true) {
  el.className = `notice ${ok ? "ok" : "bad"}`;
  el.setAttribute("role", ok ? "status" : "alert");
  el.textContent = message;
}

/** A copy-to-clipboard button for the text ``getText()`` returns. */
export function copyButton(getText) {
  const button = h("button", { type: "button", class: "copy" }, t("common.copy"));
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(getText());
      button.textContent = t("common.copied");
    } catch {
      button.textContent = t("common.copy_failed");
    }
    setTimeout(() => {
      button.textContent = t("common.copy");
    }, 1500);
  });
  return button;
}

/** A modal yes/no question (a <dialog>, keyboard-usable); resolves true when confirmed. */
export function confirmDialog(message, confirmLabel) {
  return new Promise((resolve) => {
    const form = h(
      "form",
      { method: "dialog" },
      h("p", null, message),
      h("div", { class: "row end" }, h("button", { type: "submit", value: "cancel" }, t("common.cancel")), h("button", { type: "submit", value: "ok", class: "primary", "data-confirm": "" }, confirmLabel || t("common.ok"))),
    );
    const dialog = h("dialog", null, form);
    document.body.append(dialog);
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "ok");
    });
    dialog.showModal();
  });
}

/** <option>s for a <select>, keeping its first ("any") option and the current value when still offered. */
export function fillSelect(select, options, keepFirst = true) {
  const value = select.value;
  const first = keepFirst ? select.options[0] : null;
  select.replaceChildren(...(first ? [first] : []), ...options.map((o) => h("option", { value: o.value }, o.label)));
  if (options.some((o) => o.value === value)) {
    select.value = value;
  }
}
