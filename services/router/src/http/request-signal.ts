import type { ServerResponse } from "node:http";
import type { StatementSignal } from "../shards/server-session.ts";

/**
 * Aborts when the HTTP exchange ends before the answer was sent: the client went away or its
 * socket timed out. The shard statements the request started are then cancelled on the servers,
 * instead of running on for nobody until their statement_timeout. A plain object, not an
 * AbortController: this is made for every request and almost never aborts.
 */
export function requestSignal(reply: { readonly raw: ServerResponse }): StatementSignal {
  const end = new RequestEnd();
  reply.raw.once("close", () => {
    if (!reply.raw.writableFinished) end.abort();
  });
  return end;
}

class RequestEnd implements StatementSignal {
  aborted = false;
  #listeners: (() => void)[] | undefined;

  onAbort(listener: () => void): void {
    this.#listeners ??= [];
    this.#listeners.push(listener);
  }

  offAbort(listener: () => void): void {
    const at = this.#listeners?.indexOf(listener) ?? -1;
    if (at >= 0) this.#listeners?.splice(at, 1);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.#listeners ?? [];
    this.#listeners = undefined;
    for (const listener of listeners) listener();
  }
}
