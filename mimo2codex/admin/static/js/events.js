// The live feed (GET /admin/api/events, server-sent events) read with fetch rather than EventSource,
// so the admin token can travel in a header. Reconnects with a growing pause; onStatus(true|false)
// tells the page whether it is live.
import { apiUrl, authHeaders } from "./api.js";

export function subscribe(onEvent, onStatus) {
  let stopped = false;
  let controller = null;
  let pause = 1000;

  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const response = await fetch(apiUrl("events"), {
          headers: { Accept: "text/event-stream", ...authHeaders() },
          signal: controller.signal,
        });
        if (!response.ok || !response.body) {
          throw new Error(`HTTP ${response.status}`);
        }
        onStatus(true);
        pause = 1000;
        await read(response.body, onEvent);
      } catch (exc) {
        if (stopped || exc.name === "AbortError") {
          return;
        }
      }
      onStatus(false);
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 30000);
    }
  }

  run();
  window.addEventListener("pagehide", () => stop());
  function stop() {
    stopped = true;
    controller?.abort();
  }
  return stop;
}

/** Decode an SSE byte stream: each event's joined ``data:`` lines, parsed as JSON, with its ``event:`` name. */
async function read(stream, onEvent) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      return;
    }
    buffer += value;
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
      let name = "message";
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith("event:")) {
          name = line.slice(6).trim();
        } else if (line.startsWith("data:")) {
          data.push(line.slice(5).replace(/^ /, ""));
        }
      }
      if (!data.length) {
        continue; // a comment (keep-alive)
      }
      try {
        onEvent(name, JSON.parse(data.join("\n")));
      } catch {
        // not JSON: not ours to show
      }
    }
  }
}
