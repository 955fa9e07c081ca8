// Providers: the active registry, a form that writes one providers.json entry (vendor presets fill it
// in), and the raw file editor. Both write through PUT generic-providers, which validates with the
// startup messages, backs up, writes atomically and swaps the registry at once.
import { ApiError, get, post, put } from "../api.js";
import { $, fillTable, h } from "../dom.js";
import { t } from "../i18n.js";
import { clearFieldErrors, clearNotice, fillSelect, notify, showFieldError } from "../widgets.js";

let presets = [];
let fileState = null;

function presetData() {
  // vendor presets are static data the page carries (a JSON data block: never executed)
  const block = document.getElementById("presets-data");
  try {
    return block ? JSON.parse(block.textContent) : [];
  } catch {
    return [];
  }
}

/** A file path shows as its name (the whole path on hover); other sources (env) as they are. */
function sourceLabel(source) {
  if (!source) {
    return "—";
  }
  const name = source.split(/[\\/]/).pop();
  return name === source ? source : h("span", { title: source }, name);
}

/** A URL that may wrap after its separators (a narrow table wraps it there, not mid-word). */
function breakableUrl(url) {
  return String(url || "").split(/(?<=[/.])/).map((part, i) => (i ? [h("wbr"), part] : part));
}

async function loadProviders() {
  const data = await get("providers");
  fillTable(
    $("#providers-table"),
    [
      { label: t("providers.id"), className: "nowrap", render: (p) => h("code", null, p.id) },
      { label: t("providers.display_name"), render: (p) => [p.display_name, p.default ? [" ", h("span", { class: "badge ok" }, t("providers.default"))] : null] },
      { label: t("providers.base_url"), className: "clip", render: (p) => breakableUrl(p.base_url) },
      { label: t("providers.default_model"), className: "clip", render: (p) => p.default_model || "—" },
      { label: t("providers.key"), render: (p) => (p.api_key_present ? h("span", { class: "badge ok" }, t("providers.has_key")) : h("span", { class: "badge warn" }, t("providers.no_key"))) },
      { label: t("providers.source"), className: "nowrap", render: (p) => (p.builtin ? t("providers.builtin") : sourceLabel(p.source)) },
      { label: t("providers.models_n"), num: true, render: (p) => (p.open_catalog ? t("providers.open_catalog") : String(p.model_count)) },
      {
        label: "",
        render: (p) => h("button", { type: "button", "data-probe": p.id, disabled: !p.api_key_present, "aria-label": t("providers.test_named", { id: p.id }) }, t("providers.test")),
      },
    ],
    data.providers || [],
    t("providers.none"),
  );
}

/** One tiny request to the provider's default model (POST probe): latency and a sample, or the exact error. */
async function probe(button) {
  const id = button.dataset.probe;
  const result = $("#probe-result");
  button.disabled = true;
  clearNotice(result);
  result.textContent = t("providers.probing", { id });
  try {
    const answer = await post("probe", { provider: id });
    if (answer.ok) {
      notify(result, t("providers.probe_ok", { id, model: answer.model, ms: Math.round(answer.latency_ms), sample: answer.sample }));
    } else {
      notify(result, t("providers.probe_failed", { id, model: answer.model, message: answer.error?.message || "" }), false);
    }
  } catch (exc) {
    notify(result, exc.message, false);
  } finally {
    button.disabled = false;
  }
}

async function loadFile() {
  fileState = await get("generic-providers");
  $("#raw-json").value = fileState.raw ?? '{\n  "providers": []\n}\n';
  $("#raw-path").textContent = fileState.path || "";
  if (fileState.error) {
    notify($("#raw-result"), fileState.error, false);
  }
}

function fileDocument() {
  if (!fileState || !fileState.raw) {
    return { providers: [] };
  }
  const doc = JSON.parse(fileState.raw);
  if (!Array.isArray(doc.providers)) {
    doc.providers = [];
  }
  return doc;
}

function applyPreset(name) {
  const form = $("#provider-form");
  const preset = presets.find((p) => p.name === name);
  if (!preset) {
    return;
  }
  form.elements.id.value ||= preset.name;
  form.elements.displayName.value = preset.display_name;
  form.elements.baseUrl.value = preset.base_url;
  form.elements.envKey.value = preset.env_key;
  form.elements.defaultModel.value = preset.default_model;
  form.elements.models.value = "";
  form.elements.models.placeholder = preset.models.join(", ");
  form.elements.wireApi.value = "chat";
}

/** The checks the browser can make before asking the server (which checks everything again). */
function localErrors(form) {
  const errors = [];
  const id = form.elements.id.value.trim();
  if (!id) {
    errors.push({ param: "id", message: t("providers.err_required") });
  } else if (!/^[a-z0-9][a-z0-9_-]*$/.test(id)) {
    errors.push({ param: "id", message: t("providers.err_id") });
  }
  const url = form.elements.baseUrl.value.trim();
  if (!url) {
    errors.push({ param: "baseUrl", message: t("providers.err_required") });
  } else if (!/^https?:\/\/[^\s/]+/.test(url)) {
    errors.push({ param: "baseUrl", message: t("providers.err_url") });
  }
  const envKey = form.elements.envKey.value.trim();
  if (envKey && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(envKey)) {
    errors.push({ param: "envKey", message: t("providers.err_env") });
  }
  if (!form.elements.defaultModel.value.trim()) {
    errors.push({ param: "defaultModel", message: t("providers.err_required") });
  }
  return errors;
}

function showLocalErrors(form, errors) {
  clearFieldErrors(form);
  for (const error of errors.reverse()) {
    const input = form.elements[error.param];
    const field = input.closest(".field");
    field.classList.add("invalid");
    input.setAttribute("aria-invalid", "true");
    field.querySelector(".error").textContent = error.message;
    input.focus();
  }
}

function entryFromForm(form) {
  const value = (name) => form.elements[name].value.trim();
  const entry = { id: value("id"), baseUrl: value("baseUrl"), defaultModel: value("defaultModel") };
  if (value("preset")) {
    // the preset brings the vendor's quirks and catalog; the fields below win over its values
    entry.preset = value("preset");
  }
  if (value("displayName")) {
    entry.displayName = value("displayName");
  }
  if (value("envKey")) {
    entry.envKey = value("envKey");
  }
  if (value("wireApi") !== "chat") {
    entry.wireApi = value("wireApi");
  }
  const models = value("models")
    .split(",")
    .map((m) => m.trim())
    .filter(Boolean);
  if (models.length) {
    entry.models = models.map((id) => ({ id }));
  }
  return entry;
}

function savedMessage(result) {
  const parts = [t("providers.saved", { n: result.providers.length })];
  if (result.backup) {
    parts.push(t("providers.backup", { path: result.backup }));
  }
  // the GENERIC_* provider, written into the first providers.json so that it is not lost
  for (const carried of result.carried || []) {
    parts.push(t("providers.carried", { id: carried.id, path: result.path }));
    if (carried.keptDefault) {
      parts.push(t("providers.carried_default", { id: carried.id }));
    }
  }
  for (const warning of result.warnings || []) {
    parts.push(warning);
  }
  return parts.join(" ");
}

async function submitEntry(event) {
  event.preventDefault();
  const form = event.target;
  const result = $("#provider-result");
  clearNotice(result);
  const errors = localErrors(form);
  if (errors.length) {
    showLocalErrors(form, errors);
    notify(result, t("providers.fix_fields"), false);
    return;
  }
  clearFieldErrors(form);
  const entry = entryFromForm(form);
  let doc;
  try {
    doc = fileDocument();
  } catch {
    notify(result, t("providers.file_broken"), false);
    return;
  }
  const index = doc.providers.findIndex((p) => p && p.id === entry.id);
  if (index >= 0) {
    doc.providers[index] = { ...doc.providers[index], ...entry };
  } else {
    doc.providers.push(entry);
  }
  try {
    const saved = await put("generic-providers", { raw: `${JSON.stringify(doc, null, 2)}\n` });
    await Promise.all([loadProviders(), loadFile()]); // the notice appears once the table shows it
    notify(result, savedMessage(saved));
    document.body.dataset.saved = String(Date.now());
  } catch (exc) {
    if (exc instanceof ApiError) {
      showFieldError(form, exc, result);
    } else {
      notify(result, exc.message, false);
    }
  }
}

/** Where JSON.parse stopped, as "line L, column C" (Chromium reports a position). */
function jsonProblem(text, exc) {
  const match = /position (\d+)/.exec(exc.message);
  if (!match) {
    return exc.message;
  }
  const before = text.slice(0, Number(match[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return t("providers.json_error", { line, column, message: exc.message });
}

async function submitRaw(event) {
  event.preventDefault();
  const form = event.target;
  const text = form.elements.document.value;
  const result = $("#raw-result");
  clearNotice(result);
  clearFieldErrors(form);
  try {
    JSON.parse(text);
  } catch (exc) {
    showFieldError(form, { param: "document", message: jsonProblem(text, exc) }, result);
    return;
  }
  try {
    const saved = await put("generic-providers", { raw: text });
    await Promise.all([loadProviders(), loadFile()]);
    notify(result, savedMessage(saved));
    document.body.dataset.saved = String(Date.now());
  } catch (exc) {
    // the server names the file, the provider and the field in its message
    showFieldError(form, { param: "document", message: exc.message }, result);
  }
}

export async function init() {
  presets = presetData();
  fillSelect(
    $("#p-preset"),
    presets.map((p) => ({ value: p.name, label: p.display_name })),
  );
  $("#providers-table").addEventListener("click", (event) => {
    const button = event.target.closest("[data-probe]");
    if (button) {
      probe(button);
    }
  });
  $("#p-preset").addEventListener("change", (event) => applyPreset(event.target.value));
  $("#provider-form").addEventListener("submit", submitEntry);
  $("#raw-form").addEventListener("submit", submitRaw);
  $("#raw-format").addEventListener("click", () => {
    const area = $("#raw-json");
    try {
      area.value = `${JSON.stringify(JSON.parse(area.value), null, 2)}\n`;
      clearFieldErrors($("#raw-form"));
    } catch (exc) {
      showFieldError($("#raw-form"), { param: "document", message: jsonProblem(area.value, exc) }, $("#raw-result"));
    }
  });
  $("#raw-reload").addEventListener("click", () => loadFile().catch((exc) => notify($("#raw-result"), exc.message, false)));
  try {
    await Promise.all([loadProviders(), loadFile()]);
  } catch (exc) {
    $("#providers-error").textContent = exc.message;
  }
}
