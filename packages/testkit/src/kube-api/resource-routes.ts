import type { IncomingMessage, ServerResponse } from "node:http";
import type { HandlerContext } from "./http-handler.ts";
import { managerOf, parseBody, readBody, sendJson } from "./http-io.ts";
import { metaOf, type Target } from "./kube-operations.ts";
import { listObjects } from "./list-query.ts";
import { isObject, type JsonObject, jsonPatch, mergePatch } from "./patches.ts";
import { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { badRequest, KubeStatusError } from "./status-error.ts";
import { serveWatch } from "./watch-stream.ts";

function selectorFor(target: Target, url: URL): (obj: JsonObject) => boolean {
  const labels = parseLabelSelector(url.searchParams.get("labelSelector"));
  const fields = parseFieldSelector(url.searchParams.get("fieldSelector"), target.def.kind);
  return (obj) => {
    const meta = metaOf(obj);
    const objLabels = isObject(meta.labels) ? (meta.labels as Record<string, string>) : {};
    return labels(objLabels) && fields(obj);
  };
}

function successStatus(target: Target, obj: JsonObject): JsonObject {
  const meta = metaOf(obj);
  const details = { name: meta.name, group: target.def.group, kind: target.def.plural, uid: meta.uid };
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details };
}

async function patch(ctx: HandlerContext, req: IncomingMessage, url: URL, target: Target, name: string) {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
  const text = await readBody(req);
  const manager = managerOf(req, url);
  const force = url.searchParams.get("force") === "true";
  switch (type) {
    case "application/apply-patch+yaml": {
      if (!url.searchParams.get("fieldManager")) {
        throw badRequest("PATCH, application/apply-patch+yaml requests must set fieldManager");
      }
      const existed = ctx.store.get(target.def, target.namespace ?? "", name) !== undefined;
      const result = ctx.operations.apply(target, name, parseBody(text, "yaml"), manager, force);
      return { code: existed ? 200 : 201, body: result };
    }
    // Strategic merge patch is treated as a JSON merge patch: list merging by key is not modelled.
    case "application/merge-patch+json":
    case "application/strategic-merge-patch+json": {
      const body = parseBody(text, "object");
      return {
        code: 200,
        body: ctx.operations.patch(target, name, (live) => mergePatch(live, body), manager),
      };
    }
    case "application/json-patch+json": {
      const ops = parseBody(text, "json-patch");
      return { code: 200, body: ctx.operations.patch(target, name, (live) => jsonPatch(live, ops), manager) };
    }
    default:
      throw new KubeStatusError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
      );
  }
}

/** One resource request: GET (one, list, watch), POST, PUT, PATCH, DELETE (one or collection). */
export async function resource(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  target: Target,
) {
  const { def, name } = target;
  const method = req.method ?? "GET";
  const manager = () => managerOf(req, url);
  if (def.namespaced && target.namespace === undefined && method !== "GET") throw notAllowed(method);
  if (method === "GET" && name !== undefined) return sendJson(res, 200, ctx.operations.read(target, name));
  if (method === "GET") {
    const matches = selectorFor(target, url);
    const watchParam = url.searchParams.get("watch");
    if (watchParam === "1" || watchParam === "true") {
      const timeout = url.searchParams.get("timeoutSeconds");
      serveWatch(
        res,
        ctx.store,
        {
          def,
          namespace: target.namespace,
          resourceVersion: url.searchParams.get("resourceVersion") ?? undefined,
          matches,
          timeoutSeconds: timeout ? Number(timeout) : undefined,
          allowWatchBookmarks: url.searchParams.get("allowWatchBookmarks") === "true",
          bookmarkIntervalMs: ctx.bookmarkIntervalMs,
        },
        ctx.watches,
      );
      return;
    }
    const limit = url.searchParams.get("limit");
    const body = listObjects(ctx.store, {
      def,
      namespace: target.namespace,
      matches,
      limit: limit ? Number(limit) : undefined,
      continueToken: url.searchParams.get("continue") ?? undefined,
      itemsCarryKind: ctx.registry.isCustom(def),
    });
    return sendJson(res, 200, body);
  }
  if (method === "POST" && name === undefined) {
    return sendJson(
      res,
      201,
      ctx.operations.create(target, parseBody(await readBody(req), "object"), manager()),
    );
  }
  if (method === "PUT" && name !== undefined) {
    return sendJson(
      res,
      200,
      ctx.operations.replace(target, name, parseBody(await readBody(req), "object"), manager()),
    );
  }
  if (method === "PATCH" && name !== undefined) {
    const result = await patch(ctx, req, url, target, name);
    return sendJson(res, result.code, result.body);
  }
  if (method === "DELETE" && name !== undefined && target.subresource === undefined) {
    const deleted = ctx.operations.delete(target, name, ctx.registry.all());
    const returnsObject = def.group === "" && (def.kind === "Pod" || def.kind === "Namespace");
    return sendJson(res, 200, returnsObject ? deleted : successStatus(target, deleted));
  }
  if (method === "DELETE" && name === undefined) {
    const matches = selectorFor(target, url);
    const victims = ctx.store.list(def, target.namespace).filter(matches);
    const items = victims.map((obj) =>
      ctx.operations.delete(target, String(metaOf(obj).name), ctx.registry.all()),
    );
    const metadata = { resourceVersion: String(ctx.store.resourceVersion) };
    return sendJson(res, 200, { kind: `${def.kind}List`, apiVersion: "v1", metadata, items });
  }
  throw notAllowed(method);
}

function notAllowed(method: string): KubeStatusError {
  return new KubeStatusError(
    405,
    "MethodNotAllowed",
    `the server does not allow this method on the requested resource (${method})`,
  );
}
