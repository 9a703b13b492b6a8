import type { ServerResponse } from "node:http";
import type { HttpApp } from "@dbplane/service-kit";
import type { ReadModelChanges } from "../console/read-model-changes.ts";

/**
 * A burst of events (a reshard's load samples, a rebuild) becomes one message per this window:
 * a browser refetches once, not a thousand times.
 */
const COALESCE_MS = 250;
/** A comment line this often keeps proxies and load balancers from closing an idle stream. */
const KEEPALIVE_MS = 15_000;
/** setTimeout's limit; a token valid longer is cut at its expiry by a later check anyway. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function openStream(raw: ServerResponse, changes: ReadModelChanges): () => void {
  let pending: { models: Set<string>; types: Set<string> } | undefined;
  let flush: NodeJS.Timeout | undefined;
  const send = (event: string, data: unknown) =>
    raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const unsubscribe = changes.subscribe((notice) => {
    pending ??= { models: new Set(), types: new Set() };
    pending.models.add(notice.model);
    for (const t of notice.types) pending.types.add(t);
    flush ??= setTimeout(() => {
      const batch = pending!;
      pending = undefined;
      flush = undefined;
      send("change", { models: [...batch.models].sort(), types: [...batch.types].sort() });
    }, COALESCE_MS);
  });
  const keepalive = setInterval(() => raw.write(": keepalive\n\n"), KEEPALIVE_MS);
  send("ready", { models: ["fleet", "audit"] });
  return () => {
    unsubscribe();
    clearTimeout(flush);
    clearInterval(keepalive);
  };
}

/**
 * `GET /v1/console/events`: Server-Sent Events naming the read models that changed (fleet,
 * audit with the event types), for the console to refetch what it shows. A `/v1` GET, so it
 * needs the `read` scope like the data it announces; the console reads it with fetch() and an
 * Authorization header (EventSource cannot send one).
 */
export function registerLiveRoutes(app: HttpApp, deps: { changes: ReadModelChanges }): void {
  const open = new Set<ServerResponse>();
  app.addHook("preClose", async () => {
    for (const raw of open) raw.end();
  });

  app.get(
    "/v1/console/events",
    {
      schema: {
        summary:
          "Server-Sent Events: `change` with the read models (fleet, audit) and event types that changed, coalesced",
        tags: ["console"],
        produces: ["text/event-stream"],
      },
    },
    async (request, reply) => {
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
        connection: "keep-alive",
      });
      open.add(raw);
      const stop = openStream(raw, deps.changes);
      // The token was checked once, at connect: the stream ends when it expires, and the
      // client must come back with a valid one (the console then asks for a new token).
      const exp = request.principal?.exp;
      const expiry =
        exp === undefined
          ? undefined
          : setTimeout(() => raw.end(), Math.min(Math.max(exp * 1000 - Date.now(), 0), MAX_TIMER_MS));
      request.raw.on("close", () => {
        clearTimeout(expiry);
        stop();
        open.delete(raw);
      });
    },
  );
}
