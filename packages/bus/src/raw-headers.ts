import type { JsMsg } from "@nats-io/jetstream";
import type { Msg } from "@nats-io/transport-node";

/** A message's header values by exact name (the first, trimmed), as `msg.headers.get(name)` has them. */
export type HeaderGetter = (name: string) => string | undefined;

/** What nats.js's message keeps of a received message (`MsgImpl`): not typed API. */
interface RawMsg {
  readonly _msg?: { readonly hdr?: number };
  readonly _rdata?: Uint8Array;
}

const decoder = new TextDecoder();

/**
 * Reads a received message's headers from its bytes, in one pass on the first lookup, instead of
 * through nats.js's `msg.headers` — which builds a header object per message (a canonical MIME
 * key and an array per header, and a scan of every key on each append and lookup): 30 % of a
 * projection reader's CPU per message in a profile, ~40 % more messages per second read without
 * it. Same answers for the lookups dbplane makes: exact names, the first value, trimmed. Lines
 * whose name nats.js would refuse (outside printable ASCII, or empty) are skipped rather than
 * making the message unreadable. Without the raw bytes (another nats.js) it asks `msg.headers`.
 */
export function headerGetter(msg: Msg | JsMsg): HeaderGetter {
  const inner = ("msg" in msg ? (msg as { msg: unknown }).msg : msg) as RawMsg;
  const hdr = inner._msg?.hdr;
  const data = inner._rdata;
  if (hdr === undefined || !(data instanceof Uint8Array)) {
    return (name) => msg.headers?.get(name) || undefined;
  }
  if (hdr < 0) return () => undefined;
  let values: Map<string, string> | undefined;
  return (name) => {
    values ??= parse(decoder.decode(data.subarray(0, hdr)));
    // An empty value reads as absent, as `msg.headers.get(name) || undefined` does.
    return values.get(name) || undefined;
  };
}

function parse(block: string): Map<string, string> {
  const values = new Map<string, string>();
  // The first line is the status line (`NATS/1.0`); a header line ends with CRLF.
  let at = block.indexOf("\r\n");
  while (at >= 0 && at < block.length) {
    const start = at + 2;
    const end = block.indexOf("\r\n", start);
    const line = block.slice(start, end < 0 ? block.length : end);
    at = end;
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon);
    if (!validName(name) || values.has(name)) continue;
    values.set(name, line.slice(colon + 1).trim());
  }
  return values;
}

function validName(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 33 || c > 126 || c === 58) return false;
  }
  return true;
}
