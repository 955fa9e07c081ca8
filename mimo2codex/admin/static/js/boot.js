// Runs before first paint (a classic script in <head>): apply the remembered theme and language so
// the page never flashes the wrong colours. Everything else waits for main.js.
(function () {
  "use strict";
  var root = document.documentElement;
  var theme = null;
  var lang = null;
  try {
    theme = window.localStorage.getItem("mimo2codex.theme");
    lang = window.localStorage.getItem("mimo2codex.lang");
  } catch (e) {
    // storage disabled: defaults below
  }
  if (theme === "light" || theme === "dark") {
    root.setAttribute("data-theme", theme);
  }
  if (lang !== "en" && lang !== "zh") {
    lang = /^zh\b/i.test(navigator.language || "") ? "zh" : "en";
  }
  root.setAttribute("lang", lang === "zh" ? "zh-CN" : "en");
})();
