// The shell of every admin page: load the dictionary, translate the static markup, wire the theme
// and language switches, then hand over to the page's own module (pages/<name>.js, its init()).
import { applyI18n, language, loadLanguage, rememberLanguage, storedLanguage, t } from "./i18n.js";
import { h } from "./dom.js";

const THEMES = ["auto", "light", "dark"];
const THEME_KEY = "mimo2codex.theme";

function currentTheme() {
  return document.documentElement.dataset.theme || "auto";
}

function setTheme(theme) {
  if (theme === "auto") {
    delete document.documentElement.dataset.theme;
  } else {
    document.documentElement.dataset.theme = theme;
  }
  try {
    if (theme === "auto") {
      window.localStorage.removeItem(THEME_KEY);
    } else {
      window.localStorage.setItem(THEME_KEY, theme);
    }
  } catch {
    // storage disabled: the choice lasts for this page only
  }
  const label = document.querySelector("[data-theme-label]");
  if (label) {
    label.textContent = t(`theme.${theme}`);
  }
}

async function start() {
  const body = document.body;
  const page = body.dataset.page;
  await loadLanguage(storedLanguage(), body.dataset.static);
  applyI18n();
  document.title = `${t(`nav.${page}`)} · mimo2codex`;
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === page) {
      link.setAttribute("aria-current", "page");
    }
  }
  setTheme(currentTheme());
  document.getElementById("theme-switch").addEventListener("click", () => {
    setTheme(THEMES[(THEMES.indexOf(currentTheme()) + 1) % THEMES.length]);
  });
  document.getElementById("lang-switch").addEventListener("click", () => {
    rememberLanguage(language() === "zh" ? "en" : "zh");
    window.location.reload();
  });
  const module = await import(`./pages/${page}.js`);
  document.documentElement.dataset.ready = "1";
  await module.init();
  body.dataset.loaded = "1"; // the browser tests wait for this
}

start().catch((exc) => {
  document.documentElement.dataset.ready = "1";
  const main = document.getElementById("main");
  main.prepend(h("p", { class: "notice bad", role: "alert" }, `${exc.message || exc}`));
  document.body.dataset.loaded = "error";
  console.error(exc);
});
