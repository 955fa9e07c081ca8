// The admin API client: JSON in, JSON out, errors in the OpenAI shape become ApiError (with the
// offending field in ``param``). Every state-changing request is JSON (the admin's CSRF defence).
import { h } from "./dom.js";
import { t } from "./i18n.js";

const base = () => document.body.dataset.api;
// The admin token (needed beyond loopback or when tokens are configured) lives for the browser
// session only, and is sent as a bearer token, never in a URL.
const TOKEN_KEY = "mimo2codex.admin_token";
const TOKEN_CODES = new Set(["admin_token_required", "admin_token_invalid"]);

export function authHeaders() {
  let token = null;
  try {
    token = window.sessionStorage.getItem(TOKEN_KEY);
  } catch {
    token = null;
  }
  return token ? { Authorization: `Bearer ${token}` } : {};
}

let asking = null;

/** Ask for the admin token once (concurrent callers share the dialog); false when cancelled. */
export function askToken(message) {
  if (asking) {
    return asking;
  }
  asking = new Promise((resolve) => {
    const input = h("input", { type: "password", id: "admin-token", autocomplete: "current-password", required: true });
    const form = h(
      "form",
      { method: "dialog" },
      h("h2", { id: "token-title" }, t("token.title")),
      h("p", { class: "small muted" }, message || t("token.explain")),
      h("label", { class: "field", for: "admin-token" }, h("span", null, t("token.label")), input),
      h("div", { class: "row end" }, h("button", { type: "submit", value: "cancel", formnovalidate: true }, t("common.cancel")), h("button", { type: "submit", value: "ok", class: "primary" }, t("token.submit"))),
    );
    const dialog = h("dialog", { "aria-labelledby": "token-title" }, form);
    document.body.append(dialog);
    dialog.addEventListener("close", () => {
      const ok = dialog.returnValue === "ok" && input.value.trim() !== "";
      if (ok) {
        try {
          window.sessionStorage.setItem(TOKEN_KEY, input.value.trim());
        } catch {
          // storage disabled: nothing to remember it in
        }
      }
      dialog.remove();
      asking = null;
      resolve(ok);
    });
    dialog.showModal();
  });
  return asking;
}

export class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.type = error.type || null;
    this.param = error.param || null;
    this.code = error.code || null;
  }
}

export function apiUrl(path, params) {
  const url = new URL(`${base()}/${path}`, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") {
      url.searchParams.set(name, String(value));
    }
  }
  return url.pathname + url.search;
}

export async function request(method, path, { params, body } = {}) {
  const init = { method, headers: { Accept: "application/json", ...authHeaders() }, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  let response;
  try {
    response = await fetch(apiUrl(path, params), init);
  } catch (exc) {
    throw new ApiError(0, { message: t("common.network_error", { message: exc.message }), type: "network_error" });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error = data && typeof data.error === "object" && data.error ? data.error : { message: text.slice(0, 300) };
    // ask until a token works or the user cancels (a wrong one is asked for again)
    if (response.status === 401 && TOKEN_CODES.has(error.code) && (await askToken(error.message))) {
      return request(method, path, { params, body });
    }
    throw new ApiError(response.status, error);
  }
  return data;
}

export const get = (path, params) => request("GET", path, { params });
export const post = (path, body, params) => request("POST", path, { body, params });
export const put = (path, body, params) => request("PUT", path, { body, params });
export const patch = (path, body, params) => request("PATCH", path, { body, params });
export const del = (path, params, body) => request("DELETE", path, { params, body });
