import type { ServerResponse } from "node:http";
import type { ObjectStore, StoredEvent } from "./object-store.ts";
import type { JsonObject } from "./patches.ts";
import { apiVersionOf, type ResourceDefinition, resourceKey } from "./resource-registry.ts";
import { badRequest, expired } from "./status-error.ts";

export interface WatchRequest {
  readonly def: ResourceDefinition;
  readonly namespace: string | undefined;
  readonly resourceVersion: string | undefined;
  readonly matches: (obj: JsonObject) => boolean;
  readonly timeoutSeconds: number | undefined;
  readonly allowWatchBookmarks: boolean;
  readonly bookmarkIntervalMs: number;
}

/** An open watch the double can nudge (bookmark) or end (expiry, shutdown). */
export interface ActiveWatch {
  bookmark(): void;
  end(): void;
}

/**
 * Streams newline-delimited watch events as the real server does: replay from the requested
 * resourceVersion (or the current objects as ADDED when none is given), then live events; a
 * resourceVersion older than the history is a 200 with one ERROR event carrying 410 Expired.
 * With a label or field selector, an object that starts or stops matching is ADDED or DELETED.
 */
export function serveWatch(
  res: ServerResponse,
  store: ObjectStore,
  req: WatchRequest,
  openWatches: Set<ActiveWatch>,
): ActiveWatch {
  const from = req.resourceVersion;
  const resumes = from !== undefined && from !== "" && from !== "0";
  if (resumes && !/^\d+$/.test(from)) throw badRequest(`invalid resource version: ${from}`);
  res.writeHead(200, { "content-type": "application/json", "cache-control": "no-cache, private" });
  res.flushHeaders();
  const key = resourceKey(req.def);
  const send = (type: string, object: unknown) => res.write(`${JSON.stringify({ type, object })}\n`);
  let unsubscribe = () => {};
  const timers: NodeJS.Timeout[] = [];
  let ended = false;
  const watch: ActiveWatch = {
    bookmark() {
      if (ended || !req.allowWatchBookmarks) return;
      const metadata = { resourceVersion: String(store.resourceVersion) };
      send("BOOKMARK", { kind: req.def.kind, apiVersion: apiVersionOf(req.def), metadata });
    },
    end() {
      if (ended) return;
      ended = true;
      unsubscribe();
      for (const timer of timers) clearTimeout(timer);
      res.end();
      openWatches.delete(watch);
    },
  };
  openWatches.add(watch);
  res.on("close", () => watch.end());

  const deliver = (event: StoredEvent) => {
    if (event.resourceKey !== key) return;
    if (req.namespace !== undefined && event.namespace !== req.namespace) return;
    const now = event.type !== "DELETED" && req.matches(event.object);
    const before = event.type !== "ADDED" && event.previous !== undefined && req.matches(event.previous);
    if (now && before) send("MODIFIED", event.object);
    else if (now) send("ADDED", event.object);
    else if (before) send("DELETED", event.object);
  };

  if (!resumes) {
    for (const obj of store.list(req.def, req.namespace)) if (req.matches(obj)) send("ADDED", obj);
  } else {
    const since = store.eventsSince(Number(from));
    if (since === undefined) {
      const error = expired(`too old resource version: ${from} (${store.compactedTo})`);
      send("ERROR", error.toStatus());
      watch.end();
      return watch;
    }
    for (const event of since) deliver(event);
  }
  unsubscribe = store.subscribe({ onEvent: deliver, onExpire: () => watch.end() });
  if (req.timeoutSeconds !== undefined && req.timeoutSeconds > 0) {
    timers.push(setTimeout(() => watch.end(), req.timeoutSeconds * 1000));
  }
  if (req.allowWatchBookmarks) {
    const interval = setInterval(() => watch.bookmark(), req.bookmarkIntervalMs);
    interval.unref();
    timers.push(interval);
  }
  return watch;
}
