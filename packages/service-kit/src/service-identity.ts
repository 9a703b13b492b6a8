import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";

/**
 * This process's id among its service's replicas: `<hostname>:<pid>:<8 random hex digits>`. The
 * host name is the pod's name in a cluster, so logs and Redis/PostgreSQL rows say which pod; the
 * random part keeps a restarted process (same pod, perhaps the same pid) from passing for its
 * predecessor.
 */
export function replicaId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/**
 * The `version` of the service's own package.json — pass `new URL("../package.json",
 * import.meta.url)` from `src/main.ts` — for `createHttpApp`, which reports it in
 * `dbplane_service_info` and the OpenAPI document. Throws when the file has no version.
 */
export function serviceVersion(packageJson: URL): string {
  const { version } = JSON.parse(readFileSync(packageJson, "utf8")) as { version?: unknown };
  if (typeof version !== "string" || version === "") {
    throw new Error(`${fileURLToPath(packageJson)} has no version`);
  }
  return version;
}
