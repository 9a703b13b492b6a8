import type { Target } from "./kube-operations.ts";
import type { ResourceRegistry } from "./resource-registry.ts";
import { KubeStatusError } from "./status-error.ts";

function notServed(): KubeStatusError {
  return new KubeStatusError(404, "NotFound", "the server could not find the requested resource");
}

/**
 * Maps a resource path to its target: `/api/v1/namespaces/{ns}/{plural}/{name}/{sub}`,
 * `/apis/{group}/{version}/…` likewise, cluster-scoped `/…/{plural}/{name}`, and all-namespaces
 * lists `/…/{plural}`. Returns undefined for paths that are not resource paths (discovery).
 */
export function parseTarget(segments: readonly string[], registry: ResourceRegistry): Target | undefined {
  let group: string;
  let version: string;
  let rest: readonly string[];
  if (segments[0] === "api" && segments.length >= 3) {
    group = "";
    version = segments[1]!;
    rest = segments.slice(2);
  } else if (segments[0] === "apis" && segments.length >= 4) {
    group = segments[1]!;
    version = segments[2]!;
    rest = segments.slice(3);
  } else {
    return undefined;
  }
  // `/api/v1/namespaces/{name}/status` is the Namespace's own status, not a resource named "status".
  const namespaceOwn = group === "" && rest[0] === "namespaces" && rest.length === 3 && rest[2] === "status";
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3 && !namespaceOwn) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  const def = plural === undefined ? undefined : registry.byUrl(group, version, plural);
  if (!def || extra.length > 0) throw notServed();
  if (namespace !== undefined && !def.namespaced) throw notServed();
  if (def.namespaced && namespace === undefined && name !== undefined) throw notServed();
  if (subresource !== undefined && (subresource !== "status" || !def.statusSubresource)) throw notServed();
  return { def, namespace, name, subresource: subresource === "status" ? "status" : undefined };
}
