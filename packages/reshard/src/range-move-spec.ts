import { KEYSPACE_END, KEYSPACE_MIN, type ShardKeyType } from "@dbplane/sharding";
import { RangeMoveError } from "./range-move-error.ts";

/** An admin login (superuser, or owner + REPLICATION) on a shard primary. */
export interface ShardConnection {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password?: string;
  /** node-postgres `ssl` (e.g. `{ ca, rejectUnauthorized: true }` for verify-full); absent: no TLS. */
  readonly ssl?: { readonly ca: string; readonly rejectUnauthorized: boolean };
}

/** One table that moves: sharded (by `key`) or unsharded (copied whole). */
export interface MovedTable {
  /** As in shardedTables: "name" or "schema.name". */
  readonly table: string;
  /** Absent: unsharded, copied whole, never deleted from the source. */
  readonly key?: { readonly column: string; readonly type: ShardKeyType };
}

/** What moves where: the half-open hash range `[from, to)` of `tables` from `source` to `target`. */
export interface RangeMoveSpec {
  /** `[a-z0-9_]{1,40}`: names the publication, slot, subscription and role `dbplane_rs_<id>`. */
  readonly id: string;
  readonly source: ShardConnection;
  readonly target: ShardConnection;
  /** How the TARGET server reaches the source (k8s service name; locally the same host:port). */
  readonly sourceFromTarget: { readonly host: string; readonly port: number };
  readonly tables: readonly MovedTable[];
  /** Hash values of PostgreSQL's hashint8extended/hashtextextended/uuid_hash_extended(key, 0). */
  readonly from: bigint;
  readonly to: bigint;
  /**
   * The target already serves other ranges (a move or a merge, not a split onto an empty shard):
   * start() hides the copied rows from every non-superuser until revealOnTarget(), so a read of
   * the target never sees a row the source still owns. List no unsharded table then: the target
   * has its own.
   */
  readonly targetServes?: boolean;
}

const ID_PATTERN = /^[a-z0-9_]{1,40}$/;
const TABLE_PATTERN = /^[^."]+(?:\.[^."]+)?$/;

/**
 * Rejects a spec that would name objects badly or move nothing; checked before any connection so a
 * caller's mistake never leaves half-made objects behind.
 * @throws RangeMoveError INVALID_SPEC naming the field
 */
export function assertValidSpec(spec: RangeMoveSpec): void {
  const invalid = (message: string) => new RangeMoveError("INVALID_SPEC", message);
  if (!ID_PATTERN.test(spec.id)) throw invalid("spec.id must match [a-z0-9_]{1,40}");
  if (spec.from < KEYSPACE_MIN || spec.to > KEYSPACE_END || spec.from >= spec.to) {
    throw invalid(
      `spec.from/spec.to must be a non-empty range within [-2^63, 2^63); got [${spec.from}, ${spec.to})`,
    );
  }
  if (spec.tables.length === 0) throw invalid("spec.tables must list at least one table");
  const seen = new Set<string>();
  for (const [i, t] of spec.tables.entries()) {
    if (!TABLE_PATTERN.test(t.table))
      throw invalid(`spec.tables[${i}].table must be "name" or "schema.name"`);
    if (seen.has(t.table)) throw invalid(`spec.tables[${i}].table "${t.table}" is listed twice`);
    if (spec.targetServes && !t.key) {
      throw invalid(`spec.tables[${i}] is unsharded: a target that serves (spec.targetServes) has its own`);
    }
    seen.add(t.table);
  }
}

/** What every move's object name starts with: a restore finds a move's leftovers by it. */
export const MOVE_OBJECT_PREFIX = "dbplane_rs_";

/** `dbplane_rs_<id>`: the one name of the publication, slot, subscription and role of a move. */
export function objectName(spec: Pick<RangeMoveSpec, "id">): string {
  return `${MOVE_OBJECT_PREFIX}${spec.id}`;
}
