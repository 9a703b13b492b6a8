import { badRequest, KubeStatusError } from "./status-error.ts";

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** RFC 7386 JSON merge patch: objects merge, `null` deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function unescapePointerToken(token: string): string {
  return token.replace(/~1/g, "/").replace(/~0/g, "~");
}

function pointer(path: unknown): string[] {
  if (typeof path !== "string" || (path !== "" && !path.startsWith("/"))) {
    throw badRequest(`json patch: invalid path ${JSON.stringify(path)}`);
  }
  return path === "" ? [] : path.slice(1).split("/").map(unescapePointerToken);
}

function unprocessable(message: string): KubeStatusError {
  return new KubeStatusError(422, "Invalid", `json patch: ${message}`);
}

function parentOf(doc: unknown, tokens: string[]): { parent: unknown; key: string } {
  let node = doc;
  for (const token of tokens.slice(0, -1)) {
    node = Array.isArray(node) ? node[Number(token)] : isObject(node) ? node[token] : undefined;
    if (node === undefined) throw unprocessable(`path /${tokens.join("/")} does not exist`);
  }
  return { parent: node, key: tokens.at(-1)! };
}

function read(doc: unknown, tokens: string[]): unknown {
  if (tokens.length === 0) return doc;
  const { parent, key } = parentOf(doc, tokens);
  const value = Array.isArray(parent) ? parent[Number(key)] : isObject(parent) ? parent[key] : undefined;
  if (value === undefined) throw unprocessable(`path /${tokens.join("/")} does not exist`);
  return value;
}

function remove(doc: unknown, tokens: string[]): unknown {
  const value = read(doc, tokens);
  const { parent, key } = parentOf(doc, tokens);
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else delete (parent as JsonObject)[key];
  return value;
}

function add(doc: unknown, tokens: string[], value: unknown): unknown {
  if (tokens.length === 0) return value;
  const { parent, key } = parentOf(doc, tokens);
  if (Array.isArray(parent)) {
    const index = key === "-" ? parent.length : Number(key);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) {
      throw unprocessable(`index ${key} out of range`);
    }
    parent.splice(index, 0, value);
  } else if (isObject(parent)) {
    parent[key] = value;
  } else {
    throw unprocessable(`path /${tokens.join("/")} has no parent object`);
  }
  return doc;
}

/** RFC 6902 JSON patch, applied to a copy; a failed `test` or a missing path is a 422. */
export function jsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw badRequest("json patch: body must be an array of operations");
  let doc = structuredClone(target);
  for (const op of operations) {
    if (!isObject(op)) throw badRequest("json patch: each operation must be an object");
    const path = pointer(op.path);
    switch (op.op) {
      case "add":
        doc = add(doc, path, structuredClone(op.value));
        break;
      case "remove":
        remove(doc, path);
        break;
      case "replace":
        read(doc, path);
        if (path.length === 0) doc = structuredClone(op.value);
        else {
          remove(doc, path);
          doc = add(doc, path, structuredClone(op.value));
        }
        break;
      case "move":
        doc = add(doc, path, remove(doc, pointer(op.from)));
        break;
      case "copy":
        doc = add(doc, path, structuredClone(read(doc, pointer(op.from))));
        break;
      case "test":
        if (!deepEqual(read(doc, path), op.value)) throw unprocessable(`test failed at ${String(op.path)}`);
        break;
      default:
        throw badRequest(`json patch: unknown operation ${JSON.stringify(op.op)}`);
    }
  }
  return doc;
}

/** Structural equality of JSON values (key order ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]));
  }
  return false;
}
