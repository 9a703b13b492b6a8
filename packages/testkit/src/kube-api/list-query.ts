import type { ObjectStore } from "./object-store.ts";
import type { JsonObject } from "./patches.ts";
import { apiVersionOf, type ResourceDefinition } from "./resource-registry.ts";
import { badRequest } from "./status-error.ts";

export interface ListRequest {
  readonly def: ResourceDefinition;
  readonly namespace: string | undefined;
  readonly matches: (obj: JsonObject) => boolean;
  readonly limit: number | undefined;
  readonly continueToken: string | undefined;
  /** Built-in kinds' list items carry no kind/apiVersion on a real server; custom resources' do. */
  readonly itemsCarryKind: boolean;
}

function keyOf(obj: JsonObject): string {
  const meta = (obj.metadata ?? {}) as JsonObject;
  return `${String(meta.namespace ?? "")}/${String(meta.name ?? "")}`;
}

function decodeContinue(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { after?: unknown };
    if (typeof parsed.after === "string") return parsed.after;
  } catch {
    // falls through to the same 400 as a token of the wrong shape
  }
  throw badRequest("continue key is not valid");
}

/**
 * A list response with `metadata.resourceVersion` (what informers watch from) and `limit`/`continue`
 * paging. Pages are cut from the current state rather than a snapshot, a documented simplification.
 */
export function listObjects(store: ObjectStore, req: ListRequest): JsonObject {
  let items = store.list(req.def, req.namespace).filter(req.matches);
  if (req.continueToken) {
    const after = decodeContinue(req.continueToken);
    items = items.filter((obj) => keyOf(obj) > after);
  }
  const metadata: JsonObject = { resourceVersion: String(store.resourceVersion) };
  if (req.limit !== undefined && req.limit > 0 && items.length > req.limit) {
    const remaining = items.length - req.limit;
    items = items.slice(0, req.limit);
    const after = keyOf(items.at(-1)!);
    metadata.continue = Buffer.from(JSON.stringify({ after }), "utf8").toString("base64url");
    metadata.remainingItemCount = remaining;
  }
  if (!req.itemsCarryKind) {
    for (const item of items) {
      delete item.kind;
      delete item.apiVersion;
    }
  }
  return { kind: `${req.def.kind}List`, apiVersion: apiVersionOf(req.def), metadata, items };
}
