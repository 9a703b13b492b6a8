import type { ServerResponse } from "node:http";

/**
 * Aborts when the HTTP exchange ends before the answer was sent: the client went away or its
 * socket timed out. The shard statements the request started are then cancelled on the servers,
 * instead of running on for nobody until their statement_timeout.
 */
export function requestSignal(reply: { readonly raw: ServerResponse }): AbortSignal {
  const controller = new AbortController();
  reply.raw.once("close", () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
