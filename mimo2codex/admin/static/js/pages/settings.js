// Settings: runtime toggles (GET toggles, PUT/DELETE toggles/{name}; applied to the next request,
// locked when a flag or env var set them) and the request log's storage policy (GET/PUT storage).
import { ApiError, del, get, put } from "../api.js";
import { $, clear, h } from "../dom.js";
import * as fmt from "../format.js";
import { has, t } from "../i18n.js";
import { clearFieldErrors, clearNotice, metaList, notify, showFieldError } from "../widgets.js";

function label(name) {
  return has(`toggle.${name}`) ? t(`toggle.${name}`) : name;
}

function lockNote(toggle) {
  if (toggle.locked_by) {
    return h("span", { class: "hint" }, t("settings.locked_by", { by: toggle.locked_by }));
  }
  if (toggle.source === "admin") {
    return h("span", { class: "hint" }, t("settings.changed_here"));
  }
  return h("span", { class: "hint" }, has(`toggle.${toggle.name}_hint`) ? t(`toggle.${toggle.name}_hint`) : toggle.effect);
}

function resetButton(toggle) {
  if (toggle.source !== "admin") {
    return null;
  }
  return h(
    "button",
    {
      type: "button",
      class: "link small",
      onclick: () => change(toggle.name, null),
    },
    t("settings.reset"),
  );
}

function toggleField(toggle) {
  const id = `toggle-${toggle.name}`;
  const disabled = Boolean(toggle.locked_by);
  if (toggle.type === "bool") {
    const input = h("input", { type: "checkbox", id, name: toggle.name, disabled, "aria-describedby": `${id}-note` });
    input.checked = Boolean(toggle.value);
    input.addEventListener("change", () => change(toggle.name, input.checked));
    const note = lockNote(toggle);
    note.id = `${id}-note`;
    return h("div", { class: "field", dataset: { toggle: toggle.name } }, h("label", { class: "check", for: id }, input, label(toggle.name)), note, resetButton(toggle), h("span", { class: "error" }));
  }
  let input;
  if (Array.isArray(toggle.choices) && toggle.choices.length) {
    input = h("select", { id, name: toggle.name, disabled }, toggle.choices.map((c) => h("option", { value: c }, c)));
    input.value = toggle.value ?? "";
    input.addEventListener("change", () => change(toggle.name, input.value));
  } else {
    input = h("input", { type: "text", id, name: toggle.name, disabled, autocomplete: "off" });
    input.value = toggle.value ?? "";
    input.addEventListener("change", () => change(toggle.name, input.value.trim() || null));
  }
  const note = lockNote(toggle);
  note.id = `${id}-note`;
  input.setAttribute("aria-describedby", note.id);
  return h("div", { class: "field", dataset: { toggle: toggle.name } }, h("label", { for: id }, h("span", null, label(toggle.name))), input, note, resetButton(toggle), h("span", { class: "error" }));
}

async function loadToggles() {
  const data = await get("toggles");
  clear($("#toggles")).append(...data.toggles.map(toggleField));
}

async function change(name, value) {
  const form = $("#toggles-form");
  clearFieldErrors(form);
  clearNotice($("#toggles-result"));
  // the switches are drawn again from the answer: keep the keyboard focus where it was
  const focused = document.activeElement?.id;
  const refocus = () => focused && document.getElementById(focused)?.focus();
  try {
    const result = value === null ? await del(`toggles/${name}`) : await put(`toggles/${name}`, { value });
    await loadToggles();
    refocus();
    notify($("#toggles-result"), t("settings.applied", { name: label(name), value: String(result.toggle.value) }));
    document.body.dataset.toggled = `${name}:${Date.now()}`;
  } catch (exc) {
    const error = exc instanceof ApiError ? { ...exc, message: exc.message, param: name } : { message: exc.message, param: name };
    await loadToggles();
    refocus();
    showFieldError(form, error, $("#toggles-result"));
  }
}

const POLICY_FIELDS = [
  ["log_bodies", "select"],
  ["log_body_max", "number"],
  ["log_retention_days", "number"],
  ["log_max_mb", "number"],
];

function renderStorage(data) {
  const fields = clear($("#storage-fields"));
  for (const [name, kind] of POLICY_FIELDS) {
    const id = `storage-${name}`;
    const locked = data.locked_by?.[name];
    let input;
    if (kind === "select") {
      input = h("select", { id, name, disabled: Boolean(locked) }, (data.modes || []).map((m) => h("option", { value: m }, has(`storage.mode_${m}`) ? t(`storage.mode_${m}`) : m)));
    } else {
      input = h("input", { id, name, type: "number", min: name === "log_body_max" ? 1 : 0, step: 1, inputmode: "numeric", disabled: Boolean(locked) });
    }
    input.value = data.policy?.[name] ?? "";
    fields.append(
      h(
        "div",
        { class: "field" },
        h("label", { for: id }, h("span", null, t(`storage.${name}`))),
        input,
        h("span", { class: "hint" }, locked ? t("settings.locked_by", { by: locked }) : t(`storage.${name}_hint`)),
        h("span", { class: "error" }),
      ),
    );
  }
}

async function loadStorage() {
  const [policy, health] = await Promise.all([get("storage"), get("health")]);
  renderStorage(policy);
  const store = health.store || {};
  metaList($("#storage-state"), [
    [t("storage.backend"), store.backend],
    [t("storage.status"), store.status],
    [t("storage.location"), store.location ? h("code", null, store.location) : null],
    [t("storage.written"), fmt.num(store.written)],
    [t("storage.dropped"), fmt.num(store.dropped)],
    store.problem ? [t("storage.problem"), store.problem] : null,
  ]);
}

async function saveStorage(event) {
  event.preventDefault();
  const form = event.target;
  clearFieldErrors(form);
  clearNotice($("#storage-result"));
  const body = {};
  for (const [name, kind] of POLICY_FIELDS) {
    const input = form.elements[name];
    if (!input || input.disabled || input.value === "") {
      continue;
    }
    body[name] = kind === "number" ? Number(input.value) : input.value;
  }
  try {
    renderStorage(await put("storage", body));
    notify($("#storage-result"), t("storage.saved"));
  } catch (exc) {
    showFieldError(form, exc, $("#storage-result"));
  }
}

export async function init() {
  $("#toggles-form").addEventListener("submit", (event) => event.preventDefault());
  $("#storage-form").addEventListener("submit", saveStorage);
  const results = await Promise.allSettled([loadToggles(), loadStorage()]);
  const failed = results.filter((r) => r.status === "rejected").map((r) => r.reason.message);
  if (failed.length) {
    $("#settings-error").textContent = failed.join(" · ");
  }
}
