import { randomBytes, randomUUID } from "node:crypto";
import { normalizeForKind } from "./kind-rules.ts";
import type { WriteScope } from "./managed-fields.ts";
import type { ObjectStore } from "./object-store.ts";
import { deepEqual, isObject, type JsonObject } from "./patches.ts";
import { apiVersionOf, type ResourceDefinition } from "./resource-registry.ts";
import { recordUpdate, serverSideApply } from "./server-side-apply.ts";
import { alreadyExists, badRequest, invalid, notFound, staleResourceVersion } from "./status-error.ts";

/** Where a request points: a resource, maybe a namespace, maybe one object and its `/status`. */
export interface Target {
  readonly def: ResourceDefinition;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly subresource: "status" | undefined;
  /** `?dryRun=All`: everything is checked and the result returned, nothing is stored. */
  readonly dryRun?: boolean;
}

const dnsSubdomain = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function metaOf(obj: JsonObject): JsonObject {
  if (!isObject(obj.metadata)) obj.metadata = {};
  return obj.metadata as JsonObject;
}

function scopeOf(target: Target): WriteScope {
  return {
    subresource: target.subresource ?? "main",
    statusSubresource: target.def.statusSubresource === true,
  };
}

/** Everything outside metadata and status, whose change bumps `metadata.generation`. */
function specPart(obj: JsonObject): JsonObject {
  const { metadata: _m, status: _s, ...rest } = obj;
  return rest;
}

/**
 * The API semantics over the store: create, replace, patch, apply and delete with the real
 * server's metadata handling (uid, resourceVersion, generation, managedFields), status subresource
 * rules and error Status codes. The HTTP layer only parses and routes.
 */
export class KubeOperations {
  readonly #store: ObjectStore;
  readonly #requireNamespace: boolean;

  constructor(store: ObjectStore, requireNamespace: boolean) {
    this.#store = store;
    this.#requireNamespace = requireNamespace;
  }

  read(target: Target, name: string): JsonObject {
    const found = this.#store.get(target.def, target.namespace ?? "", name);
    if (!found) throw notFound(target.def, name);
    return found;
  }

  #checkIdentity(target: Target, body: JsonObject, name: string | undefined): void {
    const apiVersion = apiVersionOf(target.def);
    if (body.apiVersion !== undefined && body.apiVersion !== apiVersion) {
      throw badRequest(
        `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersion})`,
      );
    }
    if (body.kind !== undefined && body.kind !== target.def.kind) {
      throw badRequest(
        `the kind in the data (${String(body.kind)}) does not match the expected kind (${target.def.kind})`,
      );
    }
    const meta = metaOf(body);
    if (target.def.namespaced && meta.namespace !== undefined && meta.namespace !== target.namespace) {
      throw badRequest(
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    }
    if (name !== undefined && meta.name !== undefined && meta.name !== name) {
      throw badRequest(
        `the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`,
      );
    }
  }

  #checkNamespaceExists(target: Target): void {
    if (!this.#requireNamespace || !target.def.namespaced) return;
    const namespaces = {
      group: "",
      version: "v1",
      kind: "Namespace",
      plural: "namespaces",
      namespaced: false,
    };
    if (!this.#store.get(namespaces, "", target.namespace ?? ""))
      throw notFound(namespaces, target.namespace ?? "");
  }

  /** Sets the identity and system metadata of a new object and stores it. */
  #insert(target: Target, candidate: JsonObject): JsonObject {
    const meta = metaOf(candidate);
    if (meta.resourceVersion) throw badRequest("resourceVersion should not be set on objects to be created");
    if (!meta.name && typeof meta.generateName === "string") {
      meta.name = `${meta.generateName}${randomBytes(3).toString("hex").slice(0, 5)}`;
    }
    const name = typeof meta.name === "string" ? meta.name : "";
    if (!name) throw invalid(target.def, "", "metadata.name", "name or generateName is required");
    if (!dnsSubdomain.test(name)) {
      throw invalid(
        target.def,
        name,
        "metadata.name",
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'",
      );
    }
    this.#checkNamespaceExists(target);
    if (this.#store.get(target.def, target.namespace ?? "", name)) throw alreadyExists(target.def, name);
    candidate.apiVersion = apiVersionOf(target.def);
    candidate.kind = target.def.kind;
    if (target.def.namespaced) meta.namespace = target.namespace;
    else delete meta.namespace;
    meta.uid = randomUUID();
    meta.creationTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    meta.generation = 1;
    if (target.def.statusSubresource) delete candidate.status;
    normalizeForKind(target.def, candidate, undefined);
    if (target.dryRun) return candidate;
    return this.#store.write(target.def, candidate);
  }

  create(target: Target, body: JsonObject, manager: string): JsonObject {
    this.#checkIdentity(target, body, undefined);
    const candidate = structuredClone(body);
    delete metaOf(candidate).managedFields;
    recordUpdate(undefined, candidate, manager, scopeOf(target), apiVersionOf(target.def));
    return this.#insert(target, candidate);
  }

  /**
   * Stores `candidate` as the new state of `live`: system metadata kept, status or everything but
   * status kept depending on the scope, generation bumped on spec change; a write that changes
   * nothing does not bump the resourceVersion (as on a real server).
   */
  #commit(target: Target, live: JsonObject, candidate: JsonObject, manager: string | undefined): JsonObject {
    const scope = scopeOf(target);
    let next: JsonObject;
    if (scope.subresource === "status") {
      next = structuredClone(live);
      if (candidate.status === undefined) delete next.status;
      else next.status = structuredClone(candidate.status);
      metaOf(next).managedFields = metaOf(candidate).managedFields;
    } else {
      next = structuredClone(candidate);
      if (scope.statusSubresource) {
        if (live.status === undefined) delete next.status;
        else next.status = structuredClone(live.status);
      }
    }
    const meta = metaOf(next);
    const liveMeta = metaOf(live);
    for (const key of [
      "name",
      "namespace",
      "uid",
      "creationTimestamp",
      "generation",
      "resourceVersion",
      "deletionTimestamp",
    ]) {
      if (liveMeta[key] === undefined) delete meta[key];
      else meta[key] = liveMeta[key];
    }
    if (meta.managedFields === undefined) delete meta.managedFields;
    next.apiVersion = apiVersionOf(target.def);
    next.kind = target.def.kind;
    normalizeForKind(target.def, next, live);
    if (manager !== undefined) recordUpdate(live, next, manager, scope, apiVersionOf(target.def));
    if (!deepEqual(specPart(next), specPart(live))) meta.generation = Number(liveMeta.generation ?? 0) + 1;
    if (deepEqual(next, live)) return live;
    if (target.dryRun) return next;
    return this.#store.write(target.def, next);
  }

  #checkResourceVersion(target: Target, body: JsonObject, live: JsonObject, name: string): void {
    const wanted = metaOf(body).resourceVersion;
    if (wanted !== undefined && wanted !== "" && wanted !== metaOf(live).resourceVersion) {
      throw staleResourceVersion(target.def, name);
    }
  }

  /** PUT: a stale `metadata.resourceVersion` is a 409; without one the update is unconditional. */
  replace(target: Target, name: string, body: JsonObject, manager: string): JsonObject {
    this.#checkIdentity(target, body, name);
    const live = this.read(target, name);
    this.#checkResourceVersion(target, body, live, name);
    const candidate = structuredClone(body);
    metaOf(candidate).managedFields = metaOf(live).managedFields;
    return this.#commit(target, live, candidate, manager);
  }

  /** A merge or JSON patch already applied to the live object by `patchFn`. */
  patch(target: Target, name: string, patchFn: (live: JsonObject) => unknown, manager: string): JsonObject {
    const live = this.read(target, name);
    const patched = patchFn(structuredClone(live));
    if (!isObject(patched)) throw badRequest("the patch did not produce an object");
    this.#checkIdentity(target, patched, name);
    this.#checkResourceVersion(target, patched, live, name);
    metaOf(patched).managedFields = metaOf(live).managedFields;
    return this.#commit(target, live, patched, manager);
  }

  /** Server-side apply: creates the object when absent (main resource only). */
  apply(target: Target, name: string, applied: JsonObject, manager: string, force: boolean): JsonObject {
    if (typeof applied.apiVersion !== "string" || typeof applied.kind !== "string") {
      throw badRequest("apply configuration must set apiVersion and kind");
    }
    this.#checkIdentity(target, applied, name);
    const scope = scopeOf(target);
    const apiVersion = apiVersionOf(target.def);
    const live = this.#store.get(target.def, target.namespace ?? "", name);
    if (!live) {
      if (target.subresource === "status") throw notFound(target.def, name);
      const created = serverSideApply({ live: undefined, applied, manager, force, scope, apiVersion });
      metaOf(created).name = name;
      return this.#insert(target, created);
    }
    this.#checkResourceVersion(target, applied, live, name);
    const merged = serverSideApply({ live, applied, manager, force, scope, apiVersion });
    return this.#commit(target, live, merged, undefined);
  }

  /** Removes one object; deleting a namespace removes what it holds first. */
  delete(target: Target, name: string, allResources: readonly ResourceDefinition[]): JsonObject {
    const live = this.read(target, name);
    if (target.dryRun) return live;
    if (target.def.kind === "Namespace" && target.def.group === "") {
      for (const def of allResources.filter((d) => d.namespaced)) {
        for (const obj of this.#store.list(def, name))
          this.#store.remove(def, name, String(metaOf(obj).name));
      }
    }
    return this.#store.remove(target.def, target.namespace ?? "", String(metaOf(live).name)) ?? live;
  }
}
