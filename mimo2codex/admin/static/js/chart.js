// Charts drawn as SVG by our own code: stacked bars and lines over a time axis. Drawn at the
// container's pixel width (redrawn when it changes), so text is never stretched. Series colours come
// from CSS classes s0..s3, so light and dark themes need no code.
import { clear, h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const HEIGHT = 200;
const MARGIN = { top: 10, right: 10, bottom: 24, left: 52 };

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) {
      el.setAttribute(name, String(value));
    }
  }
  for (const child of children) {
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** The smallest "round" number >= value (1, 2, 2.5, 5 times a power of ten). */
export function niceCeil(value) {
  if (!(value > 0)) {
    return 1;
  }
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) {
      return step * power;
    }
  }
  return 10 * power;
}

const observed = new WeakMap();

/**
 * drawChart(el, {kind: "bar"|"line", x: [ms...], series: [{name, values, cls}], stacked, integer, format, xFormat, emptyText})
 * ``values[i]`` may be null (no data: a gap in a line, no bar).
 */
export function drawChart(container, spec) {
  observed.set(container, spec);
  if (!container.dataset.observed && "ResizeObserver" in window) {
    container.dataset.observed = "1";
    let lastWidth = 0;
    new ResizeObserver(() => {
      const width = container.clientWidth;
      if (Math.abs(width - lastWidth) > 4) {
        lastWidth = width;
        render(container, observed.get(container));
      }
    }).observe(container);
  }
  render(container, spec);
}

function render(container, spec) {
  const width = Math.max(280, container.clientWidth || 600);
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const n = spec.x.length;
  const format = spec.format || String;
  const root = svg("svg", { width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: "img", "aria-label": spec.label || "" });
  const hasData = spec.series.some((s) => s.values.some((v) => v !== null && v !== undefined && v > 0));

  let max = 0;
  for (let i = 0; i < n; i += 1) {
    const values = spec.series.map((s) => s.values[i] || 0);
    max = Math.max(max, spec.stacked ? values.reduce((a, b) => a + b, 0) : Math.max(0, ...values));
  }
  // four gridline steps of a round size (whole numbers for counts)
  let step = niceCeil(max / 4);
  if (spec.integer) {
    step = Math.max(1, Math.ceil(step));
  }
  max = step * 4;
  const y = (v) => MARGIN.top + plotH - (v / max) * plotH;
  const band = n ? plotW / n : plotW;
  const xCenter = (i) => MARGIN.left + band * i + band / 2;

  const grid = svg("g", { class: "grid" });
  const axis = svg("g", { class: "axis" });
  for (let k = 0; k <= 4; k += 1) {
    const value = (max * k) / 4;
    const yy = Math.round(y(value)) + 0.5;
    grid.append(svg("line", { x1: MARGIN.left, x2: width - MARGIN.right, y1: yy, y2: yy }));
    axis.append(svg("text", { x: MARGIN.left - 6, y: yy + 4, "text-anchor": "end" }, format(value)));
  }
  const labels = Math.min(n, Math.max(2, Math.floor(plotW / 90)));
  const seen = new Set();
  for (let k = 0; k < labels && n; k += 1) {
    const i = labels === 1 ? 0 : Math.round((k * (n - 1)) / (labels - 1));
    if (seen.has(i)) {
      continue;
    }
    seen.add(i);
    const anchor = k === 0 && n > 1 ? "start" : k === labels - 1 && n > 1 ? "end" : "middle";
    const xx = anchor === "start" ? MARGIN.left : anchor === "end" ? width - MARGIN.right : xCenter(i);
    axis.append(svg("text", { x: xx, y: HEIGHT - 6, "text-anchor": anchor }, spec.xFormat ? spec.xFormat(spec.x[i]) : spec.x[i]));
  }
  root.append(grid, axis);

  const plot = svg("g", { class: "plot" });
  if (spec.kind === "line") {
    spec.series.forEach((series, s) => {
      let d = "";
      let pen = false;
      series.values.forEach((v, i) => {
        if (v === null || v === undefined) {
          pen = false;
          return;
        }
        d += `${pen ? "L" : "M"}${xCenter(i).toFixed(1)},${y(v).toFixed(1)}`;
        pen = true;
        const dot = svg("circle", { cx: xCenter(i).toFixed(1), cy: y(v).toFixed(1), r: n > 40 ? 1.5 : 2.5, class: series.cls || `s${s}` });
        dot.append(svg("title", null, `${spec.xFormat ? spec.xFormat(spec.x[i]) : spec.x[i]} · ${series.name}: ${format(v)}`));
        plot.append(dot);
      });
      if (d) {
        plot.prepend(svg("path", { d, class: `line ${series.cls || `s${s}`}` }));
      }
    });
  } else {
    const barW = Math.max(1, band * 0.72);
    for (let i = 0; i < n; i += 1) {
      let base = 0;
      spec.series.forEach((series, s) => {
        const v = series.values[i];
        if (!v || v <= 0) {
          return;
        }
        const x0 = spec.stacked ? xCenter(i) - barW / 2 : xCenter(i) - barW / 2 + (barW / spec.series.length) * s;
        const w = spec.stacked ? barW : barW / spec.series.length;
        const top = spec.stacked ? base + v : v;
        const rect = svg("rect", {
          x: x0.toFixed(1),
          y: y(top).toFixed(1),
          width: w.toFixed(1),
          height: Math.max(0.5, y(spec.stacked ? base : 0) - y(top)).toFixed(1),
          class: series.cls || `s${s}`,
        });
        rect.append(svg("title", null, `${spec.xFormat ? spec.xFormat(spec.x[i]) : spec.x[i]} · ${series.name}: ${format(v)}`));
        plot.append(rect);
        if (spec.stacked) {
          base += v;
        }
      });
    }
  }
  root.append(plot);
  if (!hasData) {
    root.append(svg("text", { x: MARGIN.left + plotW / 2, y: MARGIN.top + plotH / 2, "text-anchor": "middle", class: "empty-note" }, spec.emptyText || ""));
  }
  clear(container).append(root);
}

/** A legend for the same series: coloured keys in CSS classes s0..s3. */
export function drawLegend(el, series) {
  clear(el);
  series.forEach((s, i) => el.append(h("span", null, h("i", { class: s.cls || `s${i}`, "aria-hidden": "true" }), s.name)));
}
