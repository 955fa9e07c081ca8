// Logs: filters kept in the URL, keyset paging ("load older": never an offset, never a fake total),
// a detail view rendering Responses and Chat bodies (render.js), raw JSON on demand, export, prune.
import { ApiError, apiUrl, authHeaders, del, get } from "../api.js";
import { $, clear, fillTable, h } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { pretty, renderBody } from "../render.js";
import { clearFieldErrors, clearNotice, confirmDialog, fillSelect, metaList, notify, showFieldError, statusBadge } from "../widgets.js";

const PAGE_SIZE = 50;
const FILTERS = ["provider", "model", "status", "error_code", "endpoint", "stream", "from", "to"];
let rows = [];
let nextBefore = null;
let total = null;
let selected = null;
let current = null; // the detail shown

/** The form's filters as API parameters (times as ms since the epoch). */
function filterParams() {
  const form = $("#filters");
  const params = {};
  for (const name of FILTERS) {
    const value = form.elements[name].value.trim();
    if (!value) {
      continue;
    }
    params[name] = name === "from" || name === "to" ? String(new Date(value).getTime()) : value;
  }
  return params;
}

function saveToUrl(extra) {
  const url = new URL(window.location.href);
  for (const name of [...FILTERS, "id"]) {
    url.searchParams.delete(name);
  }
  const form = $("#filters");
  for (const name of FILTERS) {
    if (form.elements[name].value) {
      url.searchParams.set(name, form.elements[name].value);
    }
  }
  for (const [name, value] of Object.entries(extra || {})) {
    url.searchParams.set(name, value);
  }
  window.history.replaceState(null, "", url);
}

function columns() {
  return [
    {
      label: t("col.time"),
      className: "nowrap",
      render: (r) => h("button", { type: "button", class: "link", "data-open": r.id, "aria-label": t("logs.open", { id: r.id }) }, fmt.dateTime(r.ts)),
    },
    { label: t("col.endpoint"), className: "hide-narrow", render: (r) => r.endpoint || "—" },
    { label: t("col.model"), className: "clip", render: (r) => r.client_model || "—" },
    { label: t("col.provider"), render: (r) => (r.provider_id ? `${r.provider_id}${r.upstream_model && r.upstream_model !== r.client_model ? ` / ${r.upstream_model}` : ""}` : "—") },
    { label: t("col.status"), render: (r) => statusBadge(r.status_code, r.error_code) },
    { label: t("col.stream"), className: "hide-narrow", render: (r) => (r.stream ? t("common.yes") : t("common.no")) },
    { label: t("col.duration"), num: true, render: (r) => fmt.ms(r.duration_ms) },
    { label: t("col.tokens"), num: true, render: (r) => fmt.num(r.total_tokens) },
  ];
}

function renderRows() {
  const body = fillTable($("#logs-table"), columns(), rows, t("logs.none"));
  body.querySelectorAll("tr").forEach((tr, i) => {
    if (rows[i]) {
      tr.dataset.id = rows[i].id;
      tr.classList.toggle("selected", String(rows[i].id) === String(selected));
    }
  });
  $("#logs-more").classList.toggle("hidden", nextBefore === null || nextBefore === undefined);
  $("#logs-count").textContent = total === null || total === undefined ? t("logs.shown", { n: fmt.num(rows.length) }) : t("logs.shown_of", { n: fmt.num(rows.length), total: fmt.num(total) });
}

async function loadPage(append) {
  const params = { ...filterParams(), limit: PAGE_SIZE };
  if (append && nextBefore !== null) {
    params.before_id = nextBefore;
  }
  try {
    const page = await get("logs", params);
    const list = page.logs || [];
    rows = append ? rows.concat(list) : list;
    nextBefore = page.next_before_id ?? null;
    if (!append) {
      total = page.total ?? null;
    }
    $("#logs-error").textContent = "";
    clearFieldErrors($("#filters"));
    renderRows();
    document.body.dataset.logs = String(Date.now());
  } catch (exc) {
    if (exc instanceof ApiError && exc.param) {
      showFieldError($("#filters"), exc, $("#logs-error"));
    } else {
      $("#logs-error").textContent = exc.message;
    }
  }
}

function renderDetail() {
  const row = current;
  const raw = $("#detail-raw").getAttribute("aria-pressed") === "true";
  metaList($("#detail-meta"), [
    [t("col.time"), fmt.dateTime(row.ts)],
    [t("logs.request_id"), row.request_id],
    [t("col.endpoint"), row.endpoint],
    [t("col.model"), row.client_model],
    [t("col.provider"), row.provider_id ? `${row.provider_id} / ${row.upstream_model || "—"}` : null],
    [t("col.status"), statusBadge(row.status_code, row.error_code)],
    [t("logs.outcome"), row.outcome],
    [t("col.duration"), fmt.ms(row.duration_ms)],
    [t("logs.ttft"), fmt.ms(row.ttft_ms)],
    [t("col.tokens"), t("logs.tokens_detail", { input: fmt.num(row.prompt_tokens), cached: fmt.num(row.cached_tokens), output: fmt.num(row.completion_tokens), reasoning: fmt.num(row.reasoning_tokens) })],
    [t("logs.finish"), row.finish_reason],
    [t("logs.retries"), row.retries],
    [t("logs.client"), row.codex_version ? `Codex ${row.codex_version}` : row.user_agent],
    row.error_snippet ? [t("logs.error"), row.error_snippet] : null,
    row.rewritten_from ? [t("logs.rewritten"), `${row.rewritten_from} (${row.rewrite_reason || ""})`] : null,
  ]);
  for (const [side, key] of [
    ["#detail-request", "request_body"],
    ["#detail-response", "response_body"],
  ]) {
    const body = row[key];
    const target = clear($(side));
    if (body === null || body === undefined || body === "") {
      target.append(h("p", { class: "muted" }, t("logs.no_body")));
    } else if (raw) {
      let text = body;
      if (typeof body === "string") {
        try {
          text = pretty(JSON.parse(body));
        } catch {
          text = body;
        }
      } else {
        text = pretty(body);
      }
      target.append(h("pre", { class: "raw" }, text));
    } else {
      target.append(renderBody(body));
    }
  }
}

async function openDetail(id) {
  try {
    current = (await get(`logs/${encodeURIComponent(id)}`)).log;
  } catch (exc) {
    $("#logs-error").textContent = exc.message;
    return;
  }
  selected = id;
  for (const tr of $("#logs-table").querySelectorAll("tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.id === String(id));
  }
  $("#detail").classList.remove("hidden");
  renderDetail();
  saveToUrl({ id });
  $("#detail").focus();
}

async function exportLogs(format) {
  const url = apiUrl("logs/export", { ...filterParams(), format });
  const headers = authHeaders();
  let href = url; // without a token: a streamed download, written by the browser as it arrives
  if (headers.Authorization) {
    // with a token the download must carry a header: fetched, then saved from memory
    const response = await fetch(url, { headers });
    if (!response.ok) {
      $("#logs-error").textContent = `${t("logs.export_failed")} (HTTP ${response.status})`;
      return;
    }
    href = URL.createObjectURL(await response.blob());
  }
  const link = h("a", { href, download: `mimo2codex-logs.${format}`, class: "hidden" });
  document.body.append(link);
  link.click();
  link.remove();
}

async function prune(event) {
  event.preventDefault();
  const form = event.target;
  const value = form.elements.before.value;
  clearFieldErrors(form);
  clearNotice($("#prune-result"));
  if (!value) {
    showFieldError(form, { param: "before", message: t("logs.prune_pick") });
    return;
  }
  const before = new Date(`${value}T00:00`).getTime();
  if (!(await confirmDialog(t("logs.prune_confirm", { date: fmt.dateTime(before) }), t("logs.prune_button")))) {
    return;
  }
  try {
    const result = await del("logs", { before });
    notify($("#prune-result"), t("logs.pruned", { n: fmt.num(result?.removed ?? 0) }));
    await loadPage(false);
  } catch (exc) {
    showFieldError(form, exc, $("#prune-result"));
  }
}

export async function init() {
  const form = $("#filters");
  const url = new URL(window.location.href);
  for (const name of FILTERS) {
    if (url.searchParams.has(name)) {
      form.elements[name].value = url.searchParams.get(name);
    }
  }
  try {
    const providers = await get("providers");
    const list = Array.isArray(providers) ? providers : providers.data || providers.providers || [];
    fillSelect(form.elements.provider, list.map((p) => ({ value: p.id, label: p.display_name || p.name || p.id })));
    if (url.searchParams.has("provider")) {
      form.elements.provider.value = url.searchParams.get("provider");
    }
  } catch (exc) {
    $("#logs-error").textContent = exc.message;
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    saveToUrl();
    loadPage(false);
  });
  $("#f-reset").addEventListener("click", () => {
    form.reset();
    saveToUrl();
    loadPage(false);
  });
  $("#logs-more").addEventListener("click", () => loadPage(true));
  $("#logs-table").addEventListener("click", (event) => {
    const button = event.target.closest("[data-open]");
    if (button) {
      openDetail(button.dataset.open);
    }
  });
  $("#detail-raw").addEventListener("click", (event) => {
    const pressed = event.currentTarget.getAttribute("aria-pressed") === "true";
    event.currentTarget.setAttribute("aria-pressed", String(!pressed));
    if (current) {
      renderDetail();
    }
  });
  $("#detail-close").addEventListener("click", () => {
    $("#detail").classList.add("hidden");
    selected = null;
    current = null;
    saveToUrl();
    renderRows();
  });
  $("#export-csv").addEventListener("click", () => exportLogs("csv"));
  $("#export-jsonl").addEventListener("click", () => exportLogs("jsonl"));
  $("#prune").addEventListener("submit", prune);
  await loadPage(false);
  if (url.searchParams.has("id")) {
    await openDetail(url.searchParams.get("id"));
  }
}
