// The coordinator's Server-Sent Events, read with fetch() because EventSource cannot send the
// Authorization header the stream needs. No polling: the page refetches when told to.
import { token } from "./api.js";

const RECONNECT_MS = [1_000, 2_000, 5_000, 10_000];

/** Parses `text/event-stream` chunks into `{ event, data }` messages. */
function sseParser(onMessage) {
  let buffer = "";
  return (chunk) => {
    buffer += chunk;
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length > 0) onMessage({ event, data: JSON.parse(data.join("\n")) });
      end = buffer.indexOf("\n\n");
    }
  };
}

/**
 * Keeps one stream open: `onChange({ models, types })` per change, `onState(text)` for the
 * header, `onUnauthorized(detail)` when the token is refused, with the server's reason when it
 * gave one (it resolves when a new one is there).
 */
export function connectLive({ onChange, onState, onUnauthorized }) {
  let failures = 0;
  let controller;
  const open = async () => {
    controller = new AbortController();
    const headers = { accept: "text/event-stream" };
    const t = token.get();
    if (t) headers.authorization = `Bearer ${t}`;
    try {
      const res = await fetch("/v1/console/events", { headers, signal: controller.signal });
      if (res.status === 401) {
        onState("not signed in");
        // The server's reason (expired or invalid), as the API calls' prompt gives it: both ask
        // at once after a reload, and whichever asks last sets the dialog's text.
        const problem = await res.json().catch(() => null);
        await onUnauthorized(problem?.detail);
        return open();
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      const parse = sseParser(({ event, data }) => {
        if (event === "ready") {
          failures = 0;
          onState("live");
          onChange({ models: ["fleet", "audit"], types: [], reconnected: true });
        } else if (event === "change") onChange(data);
      });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parse(value);
      }
    } catch (err) {
      if (err.name === "AbortError") return;
    }
    onState("reconnecting…");
    const delay = RECONNECT_MS[Math.min(failures++, RECONNECT_MS.length - 1)];
    setTimeout(open, delay);
  };
  open();
  return { restart: () => controller?.abort() || open() };
}
