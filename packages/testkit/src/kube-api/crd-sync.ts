import type { ObjectStore, StoredEvent } from "./object-store.ts";
import { isObject, type JsonObject } from "./patches.ts";
import type {
  CustomResourceDefinitionInput,
  ResourceDefinition,
  ResourceRegistry,
} from "./resource-registry.ts";

const crdKey = "apiextensions.k8s.io/customresourcedefinitions";

/** The CustomResourceDefinition object a cluster would hold for a custom resource. */
export function crdObject(input: CustomResourceDefinitionInput): JsonObject {
  const version = {
    name: input.version,
    served: true,
    storage: true,
    schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
    subresources: input.statusSubresource === false ? {} : { status: {} },
  };
  const names = {
    kind: input.kind,
    listKind: `${input.kind}List`,
    plural: input.plural,
    singular: input.kind.toLowerCase(),
    ...(input.shortNames ? { shortNames: input.shortNames } : {}),
  };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${input.plural}.${input.group}` },
    spec: {
      group: input.group,
      names,
      scope: input.namespaced ? "Namespaced" : "Cluster",
      versions: [version],
    },
  };
}

function definitionsOf(crd: JsonObject): CustomResourceDefinitionInput[] {
  const spec = isObject(crd.spec) ? crd.spec : {};
  const names = isObject(spec.names) ? spec.names : {};
  const versions = Array.isArray(spec.versions) ? spec.versions.filter(isObject) : [];
  if (typeof spec.group !== "string" || typeof names.kind !== "string" || typeof names.plural !== "string")
    return [];
  return versions
    .filter((version) => version.served !== false && typeof version.name === "string")
    .map((version) => ({
      group: spec.group as string,
      version: version.name as string,
      kind: names.kind as string,
      plural: names.plural as string,
      namespaced: spec.scope !== "Cluster",
      statusSubresource: isObject(version.subresources) && isObject(version.subresources.status),
      ...(Array.isArray(names.shortNames) ? { shortNames: names.shortNames.map(String) } : {}),
    }));
}

function groupAndPlural(crd: JsonObject): { group: string; plural: string } | undefined {
  const spec = isObject(crd.spec) ? crd.spec : {};
  const names = isObject(spec.names) ? spec.names : {};
  if (typeof spec.group !== "string" || typeof names.plural !== "string") return undefined;
  return { group: spec.group, plural: names.plural };
}

const established = (crd: JsonObject) => {
  const spec = isObject(crd.spec) ? crd.spec : {};
  return {
    conditions: [
      { type: "NamesAccepted", status: "True", reason: "NoConflicts" },
      { type: "Established", status: "True", reason: "InitialNamesAccepted" },
    ],
    acceptedNames: spec.names,
    storedVersions: definitionsOf(crd).map((def) => def.version),
  };
};

/**
 * Keeps the served custom resources in step with the CustomResourceDefinition objects, as the real
 * apiextensions server does: a CRD written through the API (or by `addCustomResource`) is served
 * and marked Established; a deleted one stops being served and its objects go with it.
 */
export function syncCustomResources(
  store: ObjectStore,
  registry: ResourceRegistry,
  crdDef: ResourceDefinition,
) {
  const onEvent = (event: StoredEvent) => {
    if (event.resourceKey !== crdKey) return;
    const ids = groupAndPlural(event.object);
    if (!ids) return;
    if (event.type === "DELETED") {
      for (const def of registry.removeCustom(ids.group, ids.plural)) {
        for (const obj of store.list(def)) {
          const meta = obj.metadata as JsonObject;
          store.remove(def, String(meta.namespace ?? ""), String(meta.name));
        }
      }
      return;
    }
    registry.removeCustom(ids.group, ids.plural);
    for (const def of definitionsOf(event.object)) {
      // A CRD claiming a built-in resource is not served (the real server would refuse the name).
      if (!registry.byUrl(def.group, def.version, def.plural)) registry.addCustom(def);
    }
    const status = established(event.object);
    if (JSON.stringify(event.object.status) !== JSON.stringify(status)) {
      store.write(crdDef, { ...structuredClone(event.object), status });
    }
  };
  return store.subscribe({ onEvent, onExpire: () => {} });
}
