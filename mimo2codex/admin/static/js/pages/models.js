// Models and aliases: each provider's catalog (built-ins read-only) plus the custom models and
// aliases kept in the store; every change is applied to routing at once.
import { ApiError, del, get, post } from "../api.js";
import { $, fillTable, h } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { clearFieldErrors, clearNotice, confirmDialog, fillSelect, notify, showFieldError } from "../widgets.js";

let providers = [];

function yes(value) {
  return value ? t("common.yes") : "—";
}

async function loadModels() {
  const provider = $("#m-provider").value;
  if (!provider) {
    return;
  }
  const data = await get(`providers/${encodeURIComponent(provider)}/models`);
  fillTable(
    $("#models-table"),
    [
      { label: t("models.upstream_id"), render: (m) => h("code", null, m.upstream_id) },
      { label: t("providers.display_name"), className: "clip", render: (m) => m.display_name || "—" },
      { label: t("models.context_window"), num: true, render: (m) => (m.context_window ? fmt.num(m.context_window) : "—") },
      { label: t("models.images"), render: (m) => yes(m.supports_images) },
      { label: t("models.reasoning"), render: (m) => yes(m.supports_reasoning) },
      {
        label: t("models.kind"),
        render: (m) =>
          m.is_builtin
            ? h("span", { class: "badge" }, t("models.builtin"))
            : h("button", { type: "button", class: "danger", "data-delete-model": m.id, "aria-label": t("models.delete_named", { name: m.upstream_id }) }, t("common.delete")),
      },
    ],
    data.models || [],
    t("models.open_catalog"),
  );
  document.body.dataset.models = String(Date.now());
}

async function loadAliases() {
  const data = await get("aliases");
  fillTable(
    $("#aliases-table"),
    [
      { label: t("models.alias"), render: (a) => h("code", null, a.alias) },
      { label: t("col.provider"), render: (a) => a.provider_id },
      { label: t("models.upstream_id"), render: (a) => h("code", null, a.upstream_id) },
      { label: "", render: (a) => h("button", { type: "button", class: "danger", "data-delete-alias": a.alias, "aria-label": t("models.delete_named", { name: a.alias }) }, t("common.delete")) },
    ],
    data.aliases || [],
    t("models.no_aliases"),
  );
}

async function loadMappings() {
  const data = await get("mappings");
  fillTable(
    $("#mappings-table"),
    [
      { label: t("models.client_model"), render: (m) => h("code", null, m.client_model || "—") },
      { label: t("col.provider"), render: (m) => m.provider_id },
      {
        label: t("models.upstream_id"),
        render: (m) => [h("code", null, m.upstream_model), m.rewritten ? [" ", h("span", { class: "badge warn" }, t("models.rewritten"))] : null],
      },
      { label: t("col.requests"), num: true, render: (m) => fmt.num(m.count) },
    ],
    data.mappings || [],
    t("dashboard.no_data"),
  );
}

async function addModel(event) {
  event.preventDefault();
  const form = event.target;
  clearFieldErrors(form);
  clearNotice($("#model-result"));
  const body = {
    upstream_id: form.elements.upstream_id.value.trim(),
    supports_images: form.elements.supports_images.checked,
    supports_reasoning: form.elements.supports_reasoning.checked,
  };
  if (form.elements.display_name.value.trim()) {
    body.display_name = form.elements.display_name.value.trim();
  }
  if (form.elements.context_window.value) {
    body.context_window = Number(form.elements.context_window.value);
  }
  if (!body.upstream_id) {
    showFieldError(form, { param: "upstream_id", message: t("providers.err_required") }, $("#model-result"));
    return;
  }
  try {
    await post(`providers/${encodeURIComponent($("#m-provider").value)}/models`, body);
    form.reset();
    await loadModels();
    notify($("#model-result"), t("models.added", { name: body.upstream_id }));
  } catch (exc) {
    showFieldError(form, exc instanceof ApiError ? exc : { message: exc.message }, $("#model-result"));
  }
}

async function addAlias(event) {
  event.preventDefault();
  const form = event.target;
  clearFieldErrors(form);
  clearNotice($("#alias-result"));
  const body = { alias: form.elements.alias.value.trim(), provider_id: form.elements.provider_id.value, upstream_id: form.elements.upstream_id.value.trim() };
  for (const name of ["alias", "upstream_id"]) {
    if (!body[name]) {
      showFieldError(form, { param: name, message: t("providers.err_required") }, $("#alias-result"));
      return;
    }
  }
  try {
    await post("aliases", body);
    form.reset();
    form.elements.provider_id.value = $("#m-provider").value;
    await loadAliases();
    notify($("#alias-result"), t("models.alias_added", { name: body.alias }));
  } catch (exc) {
    showFieldError(form, exc instanceof ApiError ? exc : { message: exc.message }, $("#alias-result"));
  }
}

export async function init() {
  try {
    providers = (await get("providers")).providers || [];
  } catch (exc) {
    $("#models-error").textContent = exc.message;
    return;
  }
  const options = providers.map((p) => ({ value: p.id, label: p.display_name || p.id }));
  fillSelect($("#m-provider"), options, false);
  fillSelect($("#a-provider"), options, false);
  const wanted = new URL(window.location.href).searchParams.get("provider");
  const initial = providers.find((p) => p.id === wanted) || providers.find((p) => p.default) || providers[0];
  if (initial) {
    $("#m-provider").value = initial.id;
    $("#a-provider").value = initial.id;
  }
  $("#m-provider").addEventListener("change", () => loadModels().catch((exc) => notify($("#models-error"), exc.message, false)));
  $("#model-form").addEventListener("submit", addModel);
  $("#alias-form").addEventListener("submit", addAlias);
  $("#models-table").addEventListener("click", async (event) => {
    const button = event.target.closest("[data-delete-model]");
    if (button && (await confirmDialog(t("models.delete_confirm"), t("common.delete")))) {
      try {
        await del(`models/${encodeURIComponent(button.dataset.deleteModel)}`);
        await loadModels();
      } catch (exc) {
        notify($("#model-result"), exc.message, false);
      }
    }
  });
  $("#aliases-table").addEventListener("click", async (event) => {
    const button = event.target.closest("[data-delete-alias]");
    if (button && (await confirmDialog(t("models.delete_confirm"), t("common.delete")))) {
      try {
        await del(`aliases/${button.dataset.deleteAlias.split("/").map(encodeURIComponent).join("/")}`);
        await loadAliases();
      } catch (exc) {
        notify($("#alias-result"), exc.message, false);
      }
    }
  });
  const results = await Promise.allSettled([loadModels(), loadAliases(), loadMappings()]);
  const failed = results.filter((r) => r.status === "rejected").map((r) => r.reason.message);
  if (failed.length) {
    $("#models-error").textContent = failed.join(" · ");
  }
}
