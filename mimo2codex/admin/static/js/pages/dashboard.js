// Dashboard: one GET /admin/api/dashboard?range= per view (never a poll per chart), refreshed when
// the live feed reports requests (at most every few seconds).
import { get } from "../api.js";
import { drawChart, drawLegend } from "../chart.js";
import { $, $$, clear, fillTable, h } from "../dom.js";
import { subscribe } from "../events.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { statusBadge } from "../widgets.js";

const RANGE_KEY = "mimo2codex.range";
const REFRESH_MS = 1500;
let range = "24h";
let timer = null;
let loading = null;

const n = (value) => (typeof value === "number" && Number.isFinite(value) ? value : 0);

function card(label, value, sub, name) {
  return h("div", { class: "card", dataset: { card: name } }, h("div", { class: "label" }, label), h("div", { class: "value" }, value), h("div", { class: "sub" }, sub || "\u00a0"));
}

function renderCards(data) {
  const totals = data.summary || {};
  const latency = totals.latency_ms || {};
  const ttft = totals.ttft_ms || {};
  clear($("#cards")).append(
    card(t("dashboard.requests"), fmt.num(totals.requests), t("dashboard.errors_n", { n: fmt.num(n(totals.errors)) }), "requests"),
    card(t("dashboard.error_rate"), fmt.pct(totals.error_rate), "", "error_rate"),
    card(t("dashboard.tokens"), fmt.compact(n(totals.prompt_tokens) + n(totals.completion_tokens)), t("dashboard.tokens_sub", { input: fmt.compact(n(totals.prompt_tokens)), output: fmt.compact(n(totals.completion_tokens)) }), "tokens"),
    card(t("dashboard.cache_hit"), fmt.pct(totals.cache_hit_rate), t("dashboard.cached_n", { n: fmt.compact(n(totals.cached_tokens)) }), "cache"),
    card(t("dashboard.latency"), fmt.ms(latency.p50), t("dashboard.p95", { v: fmt.ms(latency.p95) }), "latency"),
    card(t("dashboard.ttft"), fmt.ms(ttft.p50), t("dashboard.p95", { v: fmt.ms(ttft.p95) }), "ttft"),
  );
}

function renderCharts(data) {
  const series = data.timeseries || [];
  const bucket = data.bucket || (range === "24h" ? "hour" : "day");
  const x = series.map((p) => p.ts);
  const xFormat = (v) => fmt.timeLabel(v, bucket);
  const empty = t("dashboard.no_data");
  const tokenSeries = [
    { name: t("chart.cached_input"), values: series.map((p) => n(p.cached_tokens)) },
    { name: t("chart.uncached_input"), values: series.map((p) => Math.max(0, n(p.prompt_tokens) - n(p.cached_tokens))) },
    { name: t("chart.output"), values: series.map((p) => n(p.completion_tokens)), cls: "s2" },
  ];
  drawChart($("#chart-tokens"), { kind: "bar", stacked: true, integer: true, x, xFormat, series: tokenSeries, format: fmt.compact, emptyText: empty, label: t("dashboard.tokens_chart") });
  drawLegend($("#legend-tokens"), tokenSeries);
  const latencySeries = [
    { name: "p50", values: series.map((p) => (p.requests ? (p.latency_ms?.p50 ?? null) : null)) },
    { name: "p95", values: series.map((p) => (p.requests ? (p.latency_ms?.p95 ?? null) : null)), cls: "s2" },
  ];
  drawChart($("#chart-latency"), { kind: "line", x, xFormat, series: latencySeries, format: fmt.ms, emptyText: empty, label: t("dashboard.latency_chart") });
  drawLegend($("#legend-latency"), latencySeries);
  const errorSeries = [
    { name: t("chart.ok"), values: series.map((p) => Math.max(0, n(p.requests) - n(p.errors))) },
    { name: t("chart.errors"), values: series.map((p) => n(p.errors)), cls: "s3" },
  ];
  drawChart($("#chart-errors"), { kind: "bar", stacked: true, integer: true, x, xFormat, series: errorSeries, format: fmt.compact, emptyText: empty, label: t("dashboard.requests_chart") });
  drawLegend($("#legend-errors"), errorSeries);
}

function renderTables(data) {
  fillTable(
    $("#models-table"),
    [
      { label: t("col.provider"), render: (r) => r.provider_id || "—" },
      { label: t("col.model"), render: (r) => [h("code", null, r.client_model || r.upstream_model), r.upstream_model && r.upstream_model !== r.client_model ? h("span", { class: "muted small" }, ` → ${r.upstream_model}`) : null] },
      { label: t("col.requests"), num: true, render: (r) => fmt.num(r.requests) },
      { label: t("col.errors"), num: true, render: (r) => fmt.num(r.errors) },
      { label: t("col.input"), num: true, render: (r) => fmt.compact(n(r.prompt_tokens)) },
      { label: t("col.cached"), num: true, render: (r) => fmt.compact(n(r.cached_tokens)) },
      { label: t("col.output"), num: true, render: (r) => fmt.compact(n(r.completion_tokens)) },
      { label: t("col.p50"), num: true, render: (r) => fmt.ms(r.latency_ms?.p50) },
      { label: t("col.p95"), num: true, render: (r) => fmt.ms(r.latency_ms?.p95) },
    ],
    data.models || [],
    t("dashboard.no_data"),
  );
  fillTable(
    $("#providers-table"),
    [
      { label: t("col.provider"), render: (r) => r.display_name || r.id },
      { label: t("col.health"), render: (r) => statusBadge(r.status) },
      { label: t("col.requests"), num: true, render: (r) => fmt.num(r.requests) },
      { label: t("col.error_rate"), num: true, render: (r) => fmt.pct(r.error_rate) },
      { label: t("col.p50"), num: true, render: (r) => fmt.ms(r.latency_p50) },
      { label: t("col.last_error"), className: "clip", render: (r) => (r.top_error ? h("code", null, r.top_error) : "—") },
    ],
    data.providers || [],
    t("dashboard.no_data"),
  );
  fillTable(
    $("#errors-table"),
    [
      { label: t("col.error_code"), render: (r) => h("code", null, r.code) },
      { label: t("col.count"), num: true, render: (r) => fmt.num(r.count) },
    ],
    Object.entries(data.error_codes || {}).map(([code, count]) => ({ code, count })),
    t("dashboard.no_errors"),
  );
  renderRecent(data.recent || []);
}

export function recentColumns() {
  return [
    { label: t("col.time"), className: "nowrap", render: (r) => h("a", { href: `logs?id=${encodeURIComponent(r.id)}` }, fmt.dateTime(r.ts)) },
    { label: t("col.model"), className: "clip", render: (r) => r.client_model || r.upstream_model || "—" },
    { label: t("col.provider"), render: (r) => r.provider_id || "—" },
    { label: t("col.status"), render: (r) => statusBadge(r.status_code, r.error_code) },
    { label: t("col.duration"), num: true, render: (r) => fmt.ms(r.duration_ms) },
    { label: t("col.tokens"), num: true, render: (r) => fmt.num(r.total_tokens) },
  ];
}

function renderRecent(rows) {
  fillTable($("#recent-table"), recentColumns(), rows.slice(0, 20), t("dashboard.no_data"));
}

async function load() {
  if (loading) {
    return loading;
  }
  loading = (async () => {
    try {
      const data = await get("dashboard", { range });
      $("#dash-error").textContent = "";
      // a log that drops rows makes every figure here too low: say so
      const store = data.store;
      $("#store-warning").textContent =
        store && store.status !== "ok" ? t("dashboard.store_warning", { status: store.status, dropped: fmt.num(store.dropped), problem: store.problem || "" }) : "";
      renderCards(data);
      renderCharts(data);
      renderTables(data);
      document.body.dataset.dashboard = `${range}:${Date.now()}`; // tests wait for a fresh render
    } catch (exc) {
      $("#dash-error").textContent = exc.message;
    } finally {
      loading = null;
    }
  })();
  return loading;
}

function selectRange(value) {
  range = value;
  try {
    window.localStorage.setItem(RANGE_KEY, value);
  } catch {
    // storage disabled
  }
  for (const button of $$("[data-range]")) {
    button.setAttribute("aria-pressed", String(button.dataset.range === value));
  }
  return load();
}

export async function init() {
  try {
    range = window.localStorage.getItem(RANGE_KEY) || "24h";
  } catch {
    range = "24h";
  }
  if (!["24h", "7d", "30d"].includes(range)) {
    range = "24h";
  }
  for (const button of $$("[data-range]")) {
    button.addEventListener("click", () => selectRange(button.dataset.range));
  }
  $("#live-label").textContent = t("dashboard.live_off");
  await selectRange(range);
  subscribe(
    () => {
      // a burst of requests costs one refresh per REFRESH_MS, whatever its size
      if (!timer) {
        timer = setTimeout(() => {
          timer = null;
          load();
        }, REFRESH_MS);
      }
    },
    (live) => {
      $("#live-dot").classList.toggle("on", live);
      $("#live-label").textContent = live ? t("dashboard.live_on") : t("dashboard.live_off");
    },
  );
}
