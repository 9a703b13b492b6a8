import type { ResourceDefinition, ResourceRegistry } from "./resource-registry.ts";
import { apiVersionOf } from "./resource-registry.ts";

const allVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

function singular(def: ResourceDefinition): string {
  return def.kind.toLowerCase();
}

function resourceEntries(def: ResourceDefinition): Record<string, unknown>[] {
  const main = {
    name: def.plural,
    singularName: singular(def),
    namespaced: def.namespaced,
    kind: def.kind,
    verbs: allVerbs,
    ...(def.shortNames ? { shortNames: def.shortNames } : {}),
  };
  if (!def.statusSubresource) return [main];
  const status = {
    name: `${def.plural}/status`,
    singularName: "",
    namespaced: def.namespaced,
    kind: def.kind,
  };
  return [main, { ...status, verbs: ["get", "patch", "update"] }];
}

/** `GET /api`: the core group's versions. */
export function coreVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

/** `GET /api/v1` or `GET /apis/{group}/{version}`, or undefined when nothing is served there. */
export function resourceList(
  registry: ResourceRegistry,
  group: string,
  version: string,
): Record<string, unknown> | undefined {
  const defs = registry.all().filter((def) => def.group === group && def.version === version);
  if (defs.length === 0) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: apiVersionOf({ group, version }),
    resources: defs.flatMap(resourceEntries),
  };
}

function groupEntry(registry: ResourceRegistry, name: string): Record<string, unknown> | undefined {
  const versions = [
    ...new Set(
      registry
        .all()
        .filter((def) => def.group === name)
        .map((def) => def.version),
    ),
  ];
  if (versions.length === 0) return undefined;
  const entries = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: entries, preferredVersion: entries[0] };
}

/** `GET /apis`: every named group currently served. */
export function groupList(registry: ResourceRegistry): Record<string, unknown> {
  const names = [...new Set(registry.all().map((def) => def.group))].filter((name) => name !== "");
  return { kind: "APIGroupList", apiVersion: "v1", groups: names.map((name) => groupEntry(registry, name)) };
}

/** `GET /apis/{group}`, or undefined when the group is not served. */
export function group(registry: ResourceRegistry, name: string): Record<string, unknown> | undefined {
  const entry = groupEntry(registry, name);
  return entry ? { kind: "APIGroup", apiVersion: "v1", ...entry } : undefined;
}

/** `GET /version`: a plausible recent server so version checks pass. */
export const serverVersion = {
  major: "1",
  minor: "33",
  gitVersion: "v1.33.0-dbplane-double",
  platform: "linux/amd64",
} as const;
