// The one place strings come from: /admin/static/i18n/<lang>.json (same keys in every language, a test
// checks it). A missing key is reported on the console as an error, so the browser tests catch it.
const STORAGE_KEY = "mimo2codex.lang";
export const LANGUAGES = ["en", "zh"];

let dictionary = {};
let current = "en";

export function language() {
  return current;
}

export function storedLanguage() {
  return document.documentElement.lang.startsWith("zh") ? "zh" : "en";
}

export async function loadLanguage(lang, staticBase) {
  const response = await fetch(`${staticBase}/i18n/${lang}.json`);
  if (!response.ok) {
    throw new Error(`cannot load the ${lang} dictionary (HTTP ${response.status})`);
  }
  dictionary = await response.json();
  current = lang;
}

export function rememberLanguage(lang) {
  try {
    window.localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}

export function has(key) {
  return Object.hasOwn(dictionary, key);
}

/** t("logs.count", {n: 3}) -> the string with {n} replaced; values are inserted as text, never markup. */
export function t(key, vars) {
  let text = dictionary[key];
  if (text === undefined) {
    console.error(`i18n: missing key ${key} (${current})`);
    return key;
  }
  if (vars) {
    text = text.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? String(vars[name]) : match));
  }
  return text;
}

/** Fill every [data-i18n] element's text and [data-i18n-<attr>] attribute under ``root``. */
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const attr of ["title", "placeholder", "aria-label"]) {
    const data = `data-i18n-${attr}`;
    for (const el of root.querySelectorAll(`[${data}]`)) {
      el.setAttribute(attr, t(el.getAttribute(data)));
    }
  }
}
