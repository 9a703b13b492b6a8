import { isObject, type JsonObject } from "./patches.ts";

/**
 * Field ownership for server-side apply, simplified: a field is a path through nested objects down
 * to a scalar, an empty object, or a list. Lists are atomic (owned and replaced whole), where the
 * real server merges lists such as `containers` by key. Paths are kept as JSON-encoded key arrays
 * so label keys with dots and slashes stay intact.
 */
export type FieldSet = Set<string>;

export interface Ownership {
  manager: string;
  operation: "Apply" | "Update";
  subresource?: "status";
  apiVersion: string;
  time: string;
  fields: FieldSet;
}

/** Which part of an object a write touches: the main resource or the `/status` subresource. */
export type WriteScope = { readonly subresource: "main" | "status"; readonly statusSubresource: boolean };

const systemMetadata = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "managedFields",
  "selfLink",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "generateName",
]);

function flatten(value: unknown, path: string[], out: FieldSet): void {
  if (isObject(value) && Object.keys(value).length > 0) {
    for (const [key, child] of Object.entries(value)) flatten(child, [...path, key], out);
  } else {
    out.add(JSON.stringify(path));
  }
}

/** The fields an object sets within a write scope. */
export function fieldsOf(obj: JsonObject, scope: WriteScope): FieldSet {
  const out: FieldSet = new Set();
  for (const [key, value] of Object.entries(obj)) {
    if (key === "apiVersion" || key === "kind") continue;
    const isStatus = key === "status" && scope.statusSubresource;
    if (scope.subresource === "status" ? !isStatus : isStatus) continue;
    if (key === "metadata" && isObject(value)) {
      for (const [metaKey, metaValue] of Object.entries(value)) {
        if (!systemMetadata.has(metaKey)) flatten(metaValue, ["metadata", metaKey], out);
      }
    } else {
      flatten(value, [key], out);
    }
  }
  return out;
}

export function valueAt(obj: unknown, encoded: string): unknown {
  let node = obj;
  for (const key of JSON.parse(encoded) as string[]) node = isObject(node) ? node[key] : undefined;
  return node;
}

export function setAt(obj: JsonObject, encoded: string, value: unknown): void {
  const path = JSON.parse(encoded) as string[];
  let node = obj;
  for (const key of path.slice(0, -1)) {
    if (!isObject(node[key])) node[key] = {};
    node = node[key] as JsonObject;
  }
  const last = path.at(-1)!;
  // An empty object only claims the field; it must not wipe what others put inside it.
  if (isObject(value) && Object.keys(value).length === 0 && isObject(node[last])) return;
  node[last] = structuredClone(value);
}

export function deleteAt(obj: JsonObject, encoded: string): void {
  const path = JSON.parse(encoded) as string[];
  let node: unknown = obj;
  for (const key of path.slice(0, -1)) node = isObject(node) ? node[key] : undefined;
  if (isObject(node)) delete node[path.at(-1)!];
}

/** True when one path equals or contains the other (a scalar replaced by an object, say). */
export function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(b.slice(0, -1)) || b.startsWith(a.slice(0, -1));
}

/** Reads `metadata.managedFields` (FieldsV1) back into field sets. */
export function readOwnership(obj: JsonObject | undefined): Ownership[] {
  const meta = obj && isObject(obj.metadata) ? obj.metadata : {};
  const entries = Array.isArray(meta.managedFields) ? meta.managedFields : [];
  return entries.filter(isObject).map((entry) => {
    const fields: FieldSet = new Set();
    collectFieldsV1(entry.fieldsV1, [], fields);
    return {
      manager: String(entry.manager ?? ""),
      operation: entry.operation === "Apply" ? "Apply" : "Update",
      ...(entry.subresource === "status" ? { subresource: "status" as const } : {}),
      apiVersion: String(entry.apiVersion ?? ""),
      time: String(entry.time ?? ""),
      fields,
    };
  });
}

function collectFieldsV1(node: unknown, path: string[], out: FieldSet): void {
  if (!isObject(node)) return;
  const keys = Object.keys(node);
  if (path.length > 0 && (keys.length === 0 || keys.includes("."))) out.add(JSON.stringify(path));
  for (const key of keys) if (key.startsWith("f:")) collectFieldsV1(node[key], [...path, key.slice(2)], out);
}

function toFieldsV1(fields: FieldSet): JsonObject {
  const root: JsonObject = {};
  const paths = [...fields].map((encoded) => JSON.parse(encoded) as string[]);
  for (const path of paths) {
    let node = root;
    for (const key of path) {
      node[`f:${key}`] ??= {};
      node = node[`f:${key}`] as JsonObject;
    }
  }
  // A field that is also the parent of other owned fields is marked with "." as in FieldsV1.
  for (const path of paths) {
    let node = root;
    for (const key of path) node = node[`f:${key}`] as JsonObject;
    if (Object.keys(node).length > 0) node["."] = {};
  }
  return root;
}

/** Writes field sets into `metadata.managedFields`, dropping managers that own nothing. */
export function writeOwnership(obj: JsonObject, entries: readonly Ownership[]): void {
  const meta = (isObject(obj.metadata) ? obj.metadata : {}) as JsonObject;
  const managed = entries
    .filter((entry) => entry.fields.size > 0)
    .map((entry) => ({
      manager: entry.manager,
      operation: entry.operation,
      apiVersion: entry.apiVersion,
      time: entry.time,
      fieldsType: "FieldsV1",
      fieldsV1: toFieldsV1(entry.fields),
      ...(entry.subresource ? { subresource: entry.subresource } : {}),
    }));
  if (managed.length > 0) meta.managedFields = managed;
  else delete meta.managedFields;
  obj.metadata = meta;
}

export function nowTimestamp(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}
