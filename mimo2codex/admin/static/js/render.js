// The log-detail renderer: a stored request or response body (Responses API or Chat Completions,
// a JSON object or a captured SSE stream, possibly cut by the capture cap) -> readable DOM.
// Bodies are hostile text: everything goes through textContent (dom.h), images become placeholders
// and are never fetched, and unknown shapes fall back to their JSON.
import { h } from "./dom.js";
import { t } from "./i18n.js";

const CUT = /…\[cut: (\d+) bytes, kept (\d+)\]$/;

/** Parse a stored body: {value, parsed, cut}; ``value`` is the JSON value, or the text when not JSON. */
export function parseBody(body) {
  if (body === null || body === undefined || body === "") {
    return { value: null, parsed: false, cut: false };
  }
  if (typeof body !== "string") {
    return { value: body, parsed: true, cut: false };
  }
  const cut = CUT.test(body);
  try {
    return { value: JSON.parse(body), parsed: true, cut };
  } catch {
    const events = parseSse(body);
    if (events.length) {
      return { value: events, parsed: true, cut, sse: true };
    }
    return { value: body, parsed: false, cut };
  }
}

/** The JSON ``data:`` payloads of an SSE text, in order (unparseable ones and [DONE] skipped). */
export function parseSse(text) {
  const events = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.startsWith("data:")) {
      continue;
    }
    const data = line.slice(5).trim();
    if (!data || data === "[DONE]") {
      continue;
    }
    try {
      events.push(JSON.parse(data));
    } catch {
      // a line cut by the capture cap
    }
  }
  return events;
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

export function pretty(value) {
  if (typeof value === "string") {
    return value;
  }
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

/** Function-call arguments arrive as a JSON string: show them indented when they parse. */
function prettyArguments(text) {
  if (typeof text !== "string") {
    return pretty(text);
  }
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function item(kind, head, ...body) {
  return h("div", { class: `item ${kind}` }, h("div", { class: "head" }, head), body);
}

function textBlock(text) {
  return h("p", { class: "text" }, text);
}

function imagePlaceholder(source) {
  // Stored images are digests ("[image: 1234 bytes, sha256 ...]"); URLs are shown as text, never loaded.
  let label = "";
  if (typeof source === "string") {
    label = source.startsWith("data:") ? `${source.slice(0, 30)}…` : source;
  } else if (isObject(source)) {
    label = source.url || source.file_id || "";
  }
  return h("span", { class: "placeholder" }, t("render.image"), label ? ` ${label.length > 120 ? `${label.slice(0, 120)}…` : label}` : "");
}

function contentParts(content) {
  if (typeof content === "string") {
    return [textBlock(content)];
  }
  if (!Array.isArray(content)) {
    return content === null || content === undefined ? [] : [h("pre", null, pretty(content))];
  }
  return content.map((part) => {
    if (!isObject(part)) {
      return textBlock(String(part));
    }
    switch (part.type) {
      case "input_text":
      case "output_text":
      case "text":
      case "summary_text":
      case "reasoning_text":
        return textBlock(part.text ?? "");
      case "refusal":
        return textBlock(part.refusal ?? "");
      case "input_image":
        return h("div", null, imagePlaceholder(part.image_url ?? part.file_id));
      case "image_url":
        return h("div", null, imagePlaceholder(part.image_url));
      case "input_file":
        return h("div", null, h("span", { class: "placeholder" }, t("render.file"), ` ${part.filename || part.file_id || ""}`));
      default:
        return h("pre", null, pretty(part));
    }
  });
}

function roleHead(role, extra) {
  return [h("b", null, role || "?"), extra || null];
}

function responsesItem(entry) {
  if (typeof entry === "string") {
    return item("role-user", roleHead("user"), textBlock(entry));
  }
  if (!isObject(entry)) {
    return item("kind-other", t("render.unknown"), h("pre", null, pretty(entry)));
  }
  const type = entry.type || (entry.role ? "message" : "unknown");
  switch (type) {
    case "message":
      return item(`role-${entry.role}`, roleHead(entry.role, entry.phase ? h("span", { class: "badge" }, entry.phase) : null), contentParts(entry.content));
    case "reasoning": {
      const parts = [...contentParts(entry.summary || []), ...contentParts(entry.content || [])];
      if (entry.encrypted_content) {
        parts.push(h("span", { class: "placeholder" }, t("render.encrypted", { n: entry.encrypted_content.length })));
      }
      return item("kind-reasoning", h("b", null, t("render.reasoning")), parts);
    }
    case "function_call":
    case "custom_tool_call":
      return item(
        "kind-call",
        [h("b", null, t("render.tool_call")), h("code", null, entry.namespace ? `${entry.namespace}.${entry.name}` : entry.name || "?"), h("span", null, entry.call_id || "")],
        h("pre", null, type === "function_call" ? prettyArguments(entry.arguments) : pretty(entry.input ?? "")),
      );
    case "function_call_output":
    case "custom_tool_call_output":
      return item(
        "kind-output",
        [h("b", null, t("render.tool_output")), h("span", null, entry.call_id || "")],
        typeof entry.output === "string" ? h("pre", null, entry.output) : contentParts(entry.output),
      );
    case "local_shell_call":
      return item("kind-call", [h("b", null, t("render.tool_call")), h("code", null, "local_shell")], h("pre", null, pretty(entry.action?.command ?? entry.action)));
    case "web_search_call":
      return item("kind-call", [h("b", null, t("render.tool_call")), h("code", null, "web_search")], h("pre", null, pretty(entry.action?.query ?? entry.action ?? "")));
    default:
      return item("kind-other", [h("b", null, type)], h("pre", null, pretty(entry)));
  }
}

function chatMessage(message) {
  if (!isObject(message)) {
    return item("kind-other", t("render.unknown"), h("pre", null, pretty(message)));
  }
  const nodes = [];
  const reasoning = message.reasoning_content ?? message.reasoning;
  if (typeof reasoning === "string" && reasoning) {
    nodes.push(item("kind-reasoning", h("b", null, t("render.reasoning")), textBlock(reasoning)));
  }
  if (message.role === "tool") {
    nodes.push(item("kind-output", [h("b", null, t("render.tool_output")), h("span", null, message.tool_call_id || "")], contentParts(message.content)));
    return nodes;
  }
  const content = contentParts(message.content);
  if (content.length) {
    nodes.push(item(`role-${message.role}`, roleHead(message.role), content));
  }
  for (const call of message.tool_calls || []) {
    const fn = call.function || {};
    nodes.push(item("kind-call", [h("b", null, t("render.tool_call")), h("code", null, fn.name || "?"), h("span", null, call.id || "")], h("pre", null, prettyArguments(fn.arguments))));
  }
  if (!nodes.length) {
    nodes.push(item(`role-${message.role}`, roleHead(message.role), h("span", { class: "muted" }, t("render.empty"))));
  }
  return nodes;
}

function toolsSummary(tools) {
  if (!Array.isArray(tools) || !tools.length) {
    return null;
  }
  const names = tools.map((tool) => tool.name || tool.function?.name || tool.type || "?");
  return h("details", null, h("summary", null, t("render.tools", { n: tools.length })), h("p", { class: "small" }, names.join(", ")));
}

/** Chat-completion stream chunks -> one assistant message (content, reasoning, tool calls). */
export function foldChatChunks(chunks) {
  const message = { role: "assistant", content: "", reasoning_content: "", tool_calls: [] };
  let finish = null;
  for (const chunk of chunks) {
    for (const choice of chunk.choices || []) {
      const delta = choice.delta || {};
      message.content += delta.content || "";
      message.reasoning_content += delta.reasoning_content || delta.reasoning || "";
      for (const call of delta.tool_calls || []) {
        const index = call.index ?? message.tool_calls.length;
        const slot = (message.tool_calls[index] ||= { id: "", function: { name: "", arguments: "" } });
        slot.id ||= call.id || "";
        slot.function.name += call.function?.name || "";
        slot.function.arguments += call.function?.arguments || "";
      }
      finish = choice.finish_reason || finish;
    }
  }
  message.tool_calls = message.tool_calls.filter(Boolean);
  return { message, finish };
}

/** Responses stream events -> the final response object (or the items and text seen so far). */
export function foldResponseEvents(events) {
  const items = [];
  let text = "";
  for (const event of events) {
    if (/^response\.(completed|incomplete|failed)$/.test(event.type) && isObject(event.response)) {
      return event.response;
    }
    if (event.type === "response.output_item.done" && event.item) {
      items.push(event.item);
    } else if (event.type === "response.output_text.delta") {
      text += event.delta || "";
    } else if (event.type === "error") {
      items.push({ type: "error", ...event });
    }
  }
  if (!items.length && text) {
    items.push({ type: "message", role: "assistant", content: [{ type: "output_text", text }] });
  }
  return { output: items, status: "incomplete" };
}

function errorItem(error) {
  return item("kind-error", h("b", null, t("render.error")), textBlock(isObject(error) ? error.message || pretty(error) : String(error)), isObject(error) ? h("pre", null, pretty(error)) : null);
}

/** What kind of body this is: "responses-request" | "chat-request" | "responses" | "chat" | "error" | "text" | "json". */
export function shapeOf(parsed) {
  const value = parsed.value;
  if (!parsed.parsed) {
    return "text";
  }
  if (Array.isArray(value)) {
    if (value.some((e) => isObject(e) && typeof e.type === "string" && e.type.startsWith("response."))) {
      return "responses-stream";
    }
    if (value.some((e) => isObject(e) && Array.isArray(e.choices))) {
      return "chat-stream";
    }
    return "json";
  }
  if (!isObject(value)) {
    return "json";
  }
  // a response object also carries "instructions" (often null): look at "object"/"output" first
  if (value.object === "response" || (Array.isArray(value.output) && !("input" in value))) {
    return "responses";
  }
  if ("input" in value || ("instructions" in value && !("messages" in value))) {
    return "responses-request";
  }
  if (Array.isArray(value.messages)) {
    return "chat-request";
  }
  if (Array.isArray(value.choices)) {
    return "chat";
  }
  if (isObject(value.error)) {
    return "error";
  }
  return "json";
}

/** Render a stored body (string or value) as a conversation; the caller offers the raw JSON beside it. */
export function renderBody(body) {
  const parsed = parseBody(body);
  const root = h("div", { class: "conv" });
  if (parsed.cut) {
    root.append(h("p", { class: "notice" }, t("render.cut")));
  }
  if (parsed.value === null) {
    root.append(h("p", { class: "muted" }, t("render.none")));
    return root;
  }
  const value = parsed.value;
  switch (shapeOf(parsed)) {
    case "responses-request": {
      if (value.instructions) {
        root.append(item("role-system", roleHead(t("render.instructions")), textBlock(String(value.instructions))));
      }
      const input = typeof value.input === "string" ? [value.input] : Array.isArray(value.input) ? value.input : [];
      root.append(...input.map(responsesItem), toolsSummary(value.tools) || "");
      break;
    }
    case "chat-request":
      root.append(...value.messages.flatMap(chatMessage), toolsSummary(value.tools) || "");
      break;
    case "responses-stream":
      return renderBody(foldResponseEvents(value));
    case "chat-stream": {
      const { message, finish } = foldChatChunks(value);
      root.append(...chatMessage(message));
      if (finish) {
        root.append(h("p", { class: "small muted" }, t("render.finish", { reason: finish })));
      }
      break;
    }
    case "responses":
      root.append(...(value.output || []).map((entry) => (isObject(entry) && entry.type === "error" ? errorItem(entry) : responsesItem(entry))));
      if (value.error) {
        root.append(errorItem(value.error));
      }
      if (!(value.output || []).length && !value.error) {
        root.append(h("p", { class: "muted" }, t("render.empty")));
      }
      break;
    case "chat":
      for (const choice of value.choices) {
        root.append(...chatMessage(choice.message || choice.delta || {}));
        if (choice.finish_reason) {
          root.append(h("p", { class: "small muted" }, t("render.finish", { reason: choice.finish_reason })));
        }
      }
      break;
    case "error":
      root.append(errorItem(value.error));
      break;
    case "text":
      root.append(h("pre", { class: "raw" }, value));
      break;
    default:
      root.append(h("pre", { class: "raw" }, pretty(value)));
  }
  return root;
}
