import type { AppRecord, DatabaseRecord } from "./inventory-types.ts";

/** One requirement of a label selector: `k=v`, `k==v`, `k!=v`, `k` (exists) or `!k` (absent). */
type Requirement = { key: string; op: "=" | "!=" | "exists" | "absent"; value?: string };

export interface InventoryFilter {
  readonly namespace?: string;
  readonly labels?: readonly Requirement[];
}

const KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

/** Parses an equality-based label selector; throws a RangeError saying what is wrong. */
export function parseLabelSelector(selector: string): Requirement[] {
  return selector.split(",").map((raw) => {
    const part = raw.trim();
    const match = /^(!?)([^=!]+?)\s*(?:(==|=|!=)\s*(.*))?$/.exec(part);
    const key = match?.[2]?.trim() ?? "";
    if (!match || !KEY.test(key))
      throw new RangeError(`"${part}" is not a label requirement (k=v, k!=v, k or !k)`);
    if (match[1] === "!" && match[3]) throw new RangeError(`"${part}": ! takes a key alone`);
    if (!match[3]) return { key, op: match[1] === "!" ? "absent" : "exists" };
    const value = match[4]!.trim();
    if (!VALUE.test(value)) throw new RangeError(`"${value}" is not a label value`);
    return { key, op: match[3] === "!=" ? "!=" : "=", value };
  });
}

function labelsMatch(
  labels: Readonly<Record<string, string>>,
  requirements: readonly Requirement[],
): boolean {
  return requirements.every(({ key, op, value }) => {
    const actual = labels[key];
    if (op === "exists") return actual !== undefined;
    if (op === "absent") return actual === undefined;
    return op === "=" ? actual === value : actual !== value;
  });
}

function matches(record: DatabaseRecord | AppRecord, filter: InventoryFilter): boolean {
  if (filter.namespace !== undefined && record.workload?.namespace !== filter.namespace) return false;
  return filter.labels === undefined || labelsMatch(record.labels ?? {}, filter.labels);
}

export function filterRecords<T extends DatabaseRecord | AppRecord>(
  records: readonly T[],
  filter: InventoryFilter,
): T[] {
  return records.filter((record) => matches(record, filter));
}
