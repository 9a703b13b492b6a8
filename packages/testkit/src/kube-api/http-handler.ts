import type { IncomingMessage, ServerResponse } from "node:http";
import { coreVersions, group, groupList, resourceList, serverVersion } from "./discovery.ts";
import { sendJson } from "./http-io.ts";
import type { KubeOperations } from "./kube-operations.ts";
import type { ObjectStore } from "./object-store.ts";
import { parseTarget } from "./request-target.ts";
import type { ResourceRegistry } from "./resource-registry.ts";
import { resource } from "./resource-routes.ts";
import { badRequest, KubeStatusError } from "./status-error.ts";
import type { ActiveWatch } from "./watch-stream.ts";

export interface HandlerContext {
  readonly registry: ResourceRegistry;
  readonly store: ObjectStore;
  readonly operations: KubeOperations;
  readonly watches: Set<ActiveWatch>;
  readonly bookmarkIntervalMs: number;
  readonly serverAddress: string;
}

function discovery(ctx: HandlerContext, segments: readonly string[]): unknown {
  const path = segments.join("/");
  if (path === "api") return coreVersions(ctx.serverAddress);
  if (path === "api/v1") return resourceList(ctx.registry, "", "v1");
  if (path === "apis") return groupList(ctx.registry);
  if (segments[0] === "apis" && segments.length === 2) return group(ctx.registry, segments[1]!);
  if (segments[0] === "apis" && segments.length === 3)
    return resourceList(ctx.registry, segments[1]!, segments[2]!);
  if (path === "version") return serverVersion;
  return undefined;
}

/** The double's request handler: discovery, health, then resources; failures become Status bodies. */
export function createHandler(ctx: HandlerContext) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const url = new URL(req.url ?? "/", "http://double.invalid");
      const segments = url.pathname
        .split("/")
        .filter((s) => s !== "")
        .map(decodeURIComponent);
      if (["healthz", "livez", "readyz"].includes(segments[0] ?? "")) {
        res.writeHead(200, { "content-type": "text/plain" });
        return void res.end("ok");
      }
      if (req.method === "GET") {
        const found = discovery(ctx, segments);
        if (found !== undefined) return sendJson(res, 200, found);
      }
      const parsed = parseTarget(segments, ctx.registry);
      if (!parsed)
        throw new KubeStatusError(404, "NotFound", "the server could not find the requested resource");
      const dryRun = url.searchParams.getAll("dryRun");
      if (dryRun.some((value) => value !== "All"))
        throw badRequest(`unsupported dryRun value: ${dryRun.join(",")}`);
      await resource(ctx, req, res, url, { ...parsed, dryRun: dryRun.length > 0 });
    } catch (err) {
      // An unexpected error is a bug in the double: its message goes back so the failing test shows it.
      const status =
        err instanceof KubeStatusError
          ? err
          : new KubeStatusError(
              500,
              "InternalError",
              `Kubernetes API double failed: ${(err as Error).message}`,
            );
      if (res.headersSent) res.end();
      else sendJson(res, status.code, status.toStatus());
    }
  };
}
