// Setup: the snippets from the one renderer print-config uses (GET setup-snippets), in tabs with copy
// buttons, and Codex enable / restore (the same code as `mimo2codex codex enable|restore`).
import { get, post } from "../api.js";
import { $, clear, h } from "../dom.js";
import { t } from "../i18n.js";
import { clearNotice, confirmDialog, copyButton, fillSelect, metaList, notify } from "../widgets.js";

// tab key -> the bundle field it shows
const TABS = [
  ["config_toml", "configToml"],
  ["auth_json", "authJson"],
  ["config_toml_env_key", "configTomlEnvKey"],
  ["cc_switch", "ccSwitchConfigToml"],
  ["catalog", "catalog"],
];
let selectedTab = "config_toml";

function selectTab(key, focus) {
  selectedTab = key;
  for (const tab of $("#snippet-tabs").querySelectorAll("[role=tab]")) {
    const on = tab.dataset.tab === key;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    if (on && focus) {
      tab.focus();
    }
  }
  for (const panel of $("#snippet-panels").querySelectorAll("[role=tabpanel]")) {
    panel.hidden = panel.dataset.tab !== key;
  }
}

function renderSnippets(bundle) {
  const tabs = clear($("#snippet-tabs"));
  const panels = clear($("#snippet-panels"));
  const shown = TABS.filter(([, field]) => typeof bundle[field] === "string" && bundle[field]);
  for (const [key, field] of shown) {
    const text = bundle[field];
    tabs.append(
      h("button", { type: "button", role: "tab", id: `tab-${key}`, "aria-controls": `panel-${key}`, dataset: { tab: key }, onclick: () => selectTab(key) }, t(`setup.tab_${key}`)),
    );
    panels.append(
      h(
        "div",
        { class: "tabpanel", role: "tabpanel", id: `panel-${key}`, "aria-labelledby": `tab-${key}`, dataset: { tab: key } },
        h("div", { class: "snippet" }, h("pre", { tabindex: "0" }, h("code", null, text)), copyButton(() => text)),
      ),
    );
  }
  // arrow keys move between tabs (the ARIA tabs pattern)
  tabs.onkeydown = (event) => {
    const keys = shown.map(([key]) => key);
    const at = keys.indexOf(selectedTab);
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      event.preventDefault();
      selectTab(keys[(at + (event.key === "ArrowRight" ? 1 : keys.length - 1)) % keys.length], true);
    }
  };
  selectTab(shown.some(([key]) => key === selectedTab) ? selectedTab : shown[0]?.[0], false);
}

async function loadSnippets(provider) {
  const data = await get("setup-snippets", { provider });
  const select = $("#codex-provider");
  fillSelect(
    select,
    data.providers.map((p) => ({ value: p.id, label: p.display_name || p.id })),
    false,
  );
  select.value = data.bundle.target.providerId;
  renderSnippets(data.bundle);
}

function renderStatus(state) {
  metaList($("#codex-status"), [
    [t("setup.state"), state.enabled ? h("span", { class: "badge ok" }, t("setup.enabled")) : h("span", { class: "badge" }, t("setup.not_enabled"))],
    [t("setup.home"), h("code", null, state.home || "")],
    [t("col.model"), state.model],
    [t("setup.provider_key"), state.provider_key],
    [t("setup.login"), state.keep_login === null || state.keep_login === undefined ? null : state.keep_login ? t("setup.login_kept") : t("setup.login_gateway")],
    state.edited_since?.length ? [t("setup.edited"), state.edited_since.join(", ")] : null,
    state.problem ? [t("setup.problem"), state.problem] : null,
  ]);
  $("#codex-restore").disabled = !state.enabled;
}

async function loadStatus() {
  renderStatus(await get("codex/status"));
}

export async function init() {
  const select = $("#codex-provider");
  select.addEventListener("change", () => loadSnippets(select.value).catch((exc) => notify($("#setup-error"), exc.message, false)));
  $("#codex-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearNotice($("#codex-result"));
    try {
      const state = await post("codex/enable", { model: select.value, keep_login: $("#codex-keep-login").checked });
      renderStatus(state);
      notify($("#codex-result"), t("setup.enabled_done", { home: state.home }));
    } catch (exc) {
      notify($("#codex-result"), exc.message, false);
    }
  });
  $("#codex-restore").addEventListener("click", async () => {
    if (!(await confirmDialog(t("setup.restore_confirm"), t("setup.restore")))) {
      return;
    }
    clearNotice($("#codex-result"));
    try {
      const state = await post("codex/restore", {});
      renderStatus(state);
      notify($("#codex-result"), t("setup.restored"));
    } catch (exc) {
      notify($("#codex-result"), exc.message, false);
    }
  });
  const results = await Promise.allSettled([loadSnippets(new URL(window.location.href).searchParams.get("provider") || undefined), loadStatus()]);
  const failed = results.filter((r) => r.status === "rejected").map((r) => r.reason.message);
  if (failed.length) {
    $("#setup-error").textContent = failed.join(" · ");
  }
}
