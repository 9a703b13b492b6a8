import {
  deleteAt,
  fieldsOf,
  nowTimestamp,
  type Ownership,
  overlaps,
  readOwnership,
  setAt,
  valueAt,
  type WriteScope,
  writeOwnership,
} from "./managed-fields.ts";
import { deepEqual, type JsonObject } from "./patches.ts";
import { KubeStatusError } from "./status-error.ts";

function findEntry(
  entries: Ownership[],
  manager: string,
  operation: Ownership["operation"],
  scope: WriteScope,
) {
  const subresource = scope.subresource === "status" ? "status" : undefined;
  return entries.find(
    (entry) =>
      entry.manager === manager && entry.operation === operation && entry.subresource === subresource,
  );
}

function entryFor(
  entries: Ownership[],
  manager: string,
  operation: Ownership["operation"],
  scope: WriteScope,
  apiVersion: string,
): Ownership {
  const found = findEntry(entries, manager, operation, scope);
  if (found) return found;
  const created: Ownership = {
    manager,
    operation,
    ...(scope.subresource === "status" ? { subresource: "status" as const } : {}),
    apiVersion,
    time: nowTimestamp(),
    fields: new Set(),
  };
  entries.push(created);
  return created;
}

export interface ApplyInput {
  readonly live: JsonObject | undefined;
  readonly applied: JsonObject;
  readonly manager: string;
  readonly force: boolean;
  readonly scope: WriteScope;
  readonly apiVersion: string;
}

function conflictError(conflicts: { manager: string; field: string }[], apiVersion: string): KubeStatusError {
  const lines = conflicts.map((c) => `conflict with "${c.manager}" using ${apiVersion}: ${c.field}`);
  const message = `Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? "" : "s"}: ${lines.join("\n")}`;
  const causes = conflicts.map((c) => ({
    type: "FieldManagerConflict",
    message: `conflict with "${c.manager}"`,
    field: c.field,
  }));
  return new KubeStatusError(409, "Conflict", message, { causes });
}

function dotted(encoded: string): string {
  return `.${(JSON.parse(encoded) as string[]).join(".")}`;
}

/**
 * Server-side apply: merges the applied configuration into the live object, removes fields this
 * manager applied before and no longer does (unless someone else owns them), and refuses (409) to
 * change a field another manager owns unless `force` takes it over.
 */
export function serverSideApply(input: ApplyInput): JsonObject {
  const { live, applied, manager, scope, apiVersion } = input;
  const entries = readOwnership(live);
  const appliedFields = fieldsOf(applied, scope);
  const conflicts: { manager: string; field: string; entry: Ownership; owned: string }[] = [];
  for (const entry of entries) {
    if (entry.manager === manager) continue;
    for (const owned of entry.fields) {
      const changed = [...appliedFields].some(
        (field) => overlaps(field, owned) && !deepEqual(valueAt(live, field), valueAt(applied, field)),
      );
      if (changed) conflicts.push({ manager: entry.manager, field: dotted(owned), entry, owned });
    }
  }
  if (conflicts.length > 0 && !input.force) throw conflictError(conflicts, apiVersion);
  for (const c of conflicts) c.entry.fields.delete(c.owned);

  const result = structuredClone(live ?? {});
  const mine = entryFor(entries, manager, "Apply", scope, apiVersion);
  const others = entries.filter((entry) => entry !== mine);
  for (const field of mine.fields) {
    if (!appliedFields.has(field) && !others.some((entry) => entry.fields.has(field)))
      deleteAt(result, field);
  }
  for (const field of appliedFields) setAt(result, field, valueAt(applied, field));
  if (!deepEqual([...mine.fields].sort(), [...appliedFields].sort())) {
    mine.fields = appliedFields;
    mine.time = nowTimestamp();
    mine.apiVersion = apiVersion;
  }
  writeOwnership(result, entries);
  return result;
}

/**
 * Ownership after a non-apply write (create, update, patch): the writer takes the fields it changed
 * and they are taken from everyone else, as the real server's "Update" managers do.
 */
export function recordUpdate(
  before: JsonObject | undefined,
  after: JsonObject,
  manager: string,
  scope: WriteScope,
  apiVersion: string,
): void {
  const entries = readOwnership(before);
  const oldFields = before ? fieldsOf(before, scope) : new Set<string>();
  const newFields = fieldsOf(after, scope);
  const changed = [...newFields].filter(
    (f) => !oldFields.has(f) || !deepEqual(valueAt(before, f), valueAt(after, f)),
  );
  const removed = [...oldFields].filter((f) => !newFields.has(f));
  if (changed.length + removed.length > 0) {
    for (const entry of entries) {
      for (const owned of entry.fields) {
        if ([...changed, ...removed].some((f) => overlaps(f, owned))) entry.fields.delete(owned);
      }
    }
    const mine = entryFor(entries, manager, "Update", scope, apiVersion);
    for (const field of changed) mine.fields.add(field);
    mine.time = nowTimestamp();
    mine.apiVersion = apiVersion;
  }
  writeOwnership(after, entries);
}
