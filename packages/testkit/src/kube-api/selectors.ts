import { badRequest } from "./status-error.ts";

type Requirement =
  | { readonly op: "exists" | "notExists"; readonly key: string }
  | { readonly op: "in" | "notIn"; readonly key: string; readonly values: readonly string[] };

/** A parsed selector: every requirement must hold. */
export type Selector = (labels: Readonly<Record<string, string>>) => boolean;

/** Splits on commas that are not inside `( … )`. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (ch === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((part) => part.trim()).filter((part) => part !== "");
}

const setPattern = /^([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)$/;
const equalityPattern = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/;
const keyPattern = /^(!?)\s*([^\s!=(),]+)$/;

function parseRequirement(text: string): Requirement {
  const set = setPattern.exec(text);
  if (set) {
    const values = set[3]!.split(",").map((value) => value.trim());
    return { op: set[2] === "in" ? "in" : "notIn", key: set[1]!, values };
  }
  const equality = equalityPattern.exec(text);
  if (equality) {
    return { op: equality[2] === "!=" ? "notIn" : "in", key: equality[1]!, values: [equality[3]!] };
  }
  const key = keyPattern.exec(text);
  if (key) return { op: key[1] === "!" ? "notExists" : "exists", key: key[2]! };
  throw badRequest(`unable to parse requirement: ${JSON.stringify(text)}`);
}

function holds(req: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const value = labels[req.key];
  switch (req.op) {
    case "exists":
      return value !== undefined;
    case "notExists":
      return value === undefined;
    case "in":
      return value !== undefined && req.values.includes(value);
    case "notIn":
      return value === undefined || !req.values.includes(value);
  }
}

/**
 * Parses a label selector (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`);
 * a bad one is a 400, as on a real API server.
 */
export function parseLabelSelector(text: string | null | undefined): Selector {
  const reqs = splitTopLevel(text ?? "").map(parseRequirement);
  return (labels) => reqs.every((req) => holds(req, labels));
}

/** Field selectors the real API server accepts for every kind, plus a few per kind. */
const fieldsByKind: Record<string, readonly string[]> = {
  Pod: ["spec.nodeName", "spec.serviceAccountName", "status.phase", "status.podIP"],
  Secret: ["type"],
  Event: ["involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "reason", "type"],
  Namespace: ["status.phase"],
};

function fieldValue(obj: Record<string, unknown>, path: string): string {
  let node: unknown = obj;
  for (const part of path.split(".")) {
    node = node && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined;
  }
  return node === undefined || node === null ? "" : String(node);
}

/**
 * Parses a field selector (`metadata.name=x`, `metadata.namespace!=y`, …). Only the fields the
 * real server supports for the kind are accepted, so a test cannot pass on a selector a cluster rejects.
 */
export function parseFieldSelector(
  text: string | null | undefined,
  kind: string,
): (obj: Record<string, unknown>) => boolean {
  const allowed = ["metadata.name", "metadata.namespace", ...(fieldsByKind[kind] ?? [])];
  const reqs = splitTopLevel(text ?? "").map((part) => {
    const match = /^([^\s!=]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!match) throw badRequest(`invalid selector: '${part}'; can't understand '${part}'`);
    const field = match[1]!;
    if (!allowed.includes(field)) throw badRequest(`field label not supported: ${field}`);
    return { field, negate: match[2] === "!=", value: match[3]!.trim() };
  });
  return (obj) => reqs.every((req) => (fieldValue(obj, req.field) === req.value) !== req.negate);
}
