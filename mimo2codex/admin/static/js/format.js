// Number, time and size formatting in the page's language.
import { language, t } from "./i18n.js";

const locale = () => (language() === "zh" ? "zh-CN" : "en-US");

export function num(value) {
  if (value === null || value === undefined || Number.isNaN(value)) {
    return "—";
  }
  return new Intl.NumberFormat(locale()).format(value);
}

/** 1234567 -> "1.2M" (en) / "123.5万" (zh): compact counts for cards and axes. */
export function compact(value) {
  if (value === null || value === undefined || Number.isNaN(value)) {
    return "—";
  }
  return new Intl.NumberFormat(locale(), { notation: "compact", maximumFractionDigits: 1 }).format(value);
}

export function pct(ratio) {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) {
    return "—";
  }
  return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(ratio);
}

export function ms(value) {
  if (value === null || value === undefined || Number.isNaN(value)) {
    return "—";
  }
  if (value >= 10000) {
    return `${(value / 1000).toFixed(1)} s`;
  }
  return `${Math.round(value)} ms`;
}

export function bytes(value) {
  if (value === null || value === undefined) {
    return "—";
  }
  const units = ["B", "KB", "MB", "GB", "TB"];
  let n = value;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

/** ms since the epoch (or an ISO string) -> local date and time. */
export function dateTime(value) {
  if (value === null || value === undefined || value === "") {
    return "—";
  }
  const date = new Date(typeof value === "number" ? value : Date.parse(value));
  if (Number.isNaN(date.getTime())) {
    return String(value);
  }
  return new Intl.DateTimeFormat(locale(), { dateStyle: "short", timeStyle: "medium" }).format(date);
}

export function timeLabel(value, bucket) {
  const date = new Date(typeof value === "number" ? value : Date.parse(value));
  if (Number.isNaN(date.getTime())) {
    return String(value);
  }
  const options = bucket === "day" ? { month: "short", day: "numeric" } : { hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat(locale(), options).format(date);
}

export function ago(value) {
  const then = typeof value === "number" ? value : Date.parse(value);
  const seconds = Math.max(0, Math.round((Date.now() - then) / 1000));
  if (seconds < 60) {
    return t("time.seconds_ago", { n: seconds });
  }
  if (seconds < 3600) {
    return t("time.minutes_ago", { n: Math.round(seconds / 60) });
  }
  return dateTime(then);
}
