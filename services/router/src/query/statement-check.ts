import { ValidationError } from "@dbplane/service-kit";
import { hashShardKey, InvalidShardKeyError, type ShardKeyType } from "@dbplane/sharding";
import {
  type KeyExpr,
  loadParser,
  PlanError,
  type StatementPlan,
  StatementPlanner,
  splitInsert,
} from "@dbplane/sqlroute";
import type { LiveMap } from "../shards/live-map.ts";

/** Where a request says its statements run: one shard, and the body field that chose it. */
export interface RequestedShard {
  readonly index: number;
  /** `body.key` or `body.shard`: what a mismatch error names. */
  readonly field: string;
}

/** A statement as the HTTP API receives it, with the body field its text came from. */
export interface CheckedStatement {
  readonly sql: string;
  readonly params?: readonly unknown[] | undefined;
  readonly field: string;
}

let parserLoaded = false;
const parserReady = loadParser().then(() => {
  parserLoaded = true;
});
// Per map version's sharded tables (the map keeps the same array for its life).
const planners = new WeakMap<object, StatementPlanner>();

/**
 * Resolves once PostgreSQL's parser is loaded (checkStatements needs it); undefined when it already
 * is, so a request awaits nothing (not even a resolved promise's tick) on the hot path.
 */
export function parserLoading(): Promise<void> | undefined {
  return parserLoaded ? undefined : parserReady;
}

/** What checking a request's statements found. */
export interface StatementsChecked {
  /**
   * Whether any statement may write: everything the planner does not see as a read-only plan
   * (INSERT/UPDATE/DELETE/MERGE, COPY FROM, DDL), and text it cannot plan (PostgreSQL will most
   * likely refuse it, but a write fence must not let a write through on a guess).
   */
  readonly mayWrite: boolean;
  /**
   * Whether a statement may leave state in its server session that the next request on the pooled
   * connection would see (settings, role, prepared statements, listeners, held cursors, temporary
   * tables, advisory locks, dblink connections): the session is reset (`DISCARD ALL`) before the
   * pool has it back. See {@link mayChangeSession}.
   */
  readonly resetsSession: boolean;
  /**
   * For a request without a key, a write whose own keys place it: the shards that own them, each
   * with the statement it runs there — the rows of an `INSERT … VALUES` split by key (as the wire
   * endpoint splits them), an INSERT/UPDATE/DELETE that names its keys as it is. Absent: the
   * statement is no such write and runs on every shard.
   */
  readonly placed?: ReadonlyMap<number, PlacedStatement>;
  /**
   * For a request without a key, why the wire endpoint refuses the statement on every shard
   * (INSERT … SELECT into a sharded table, an UPDATE of the key column, a write of sharded rows
   * into a table on every shard, …). Over HTTP a scatter only reads unless allowWrites, and a
   * read's rows come back per shard, so the caller refuses it only when it may write.
   */
  readonly refusal?: string;
}

/** A shard's part of a placed write. */
export type PlacedStatement = Omit<CheckedStatement, "field">;

/**
 * Reads statements with PostgreSQL's own grammar (@dbplane/sqlroute, as the wire endpoint does)
 * before they run, so the HTTP API refuses what would silently go wrong: more than one statement
 * in a string (400 naming its field) and, for a request routed to one shard, a shard key in the
 * SQL that the shard does not own (400 naming `body.key` / `body.shard`). Text the parser
 * rejects passes through: PostgreSQL answers it with the same error and position. One plan
 * (cache) lookup per statement answers both the checks and whether the request may write.
 * Call after {@link parserLoading}.
 */
export function checkStatements(
  map: LiveMap,
  statements: readonly CheckedStatement[],
  target?: RequestedShard,
): StatementsChecked {
  const planner = plannerOf(map);
  let mayWrite = false;
  let resetsSession = false;
  let placed: ReadonlyMap<number, PlacedStatement> | undefined;
  let refusal: string | undefined;
  for (const s of statements) {
    let plans: ReturnType<StatementPlanner["planQuery"]>;
    try {
      plans = planner.planQuery(s.sql);
    } catch (err) {
      if (!(err instanceof PlanError)) throw err;
      mayWrite = true;
      resetsSession = true;
      continue;
    }
    if (plans.length > 1) {
      const message = `one statement per SQL string (found ${plans.length}); send several in a transaction`;
      throw new ValidationError(`Invalid statement: ${message}`, { errors: [{ field: s.field, message }] });
    }
    const plan = plans[0];
    if (plan === undefined) continue;
    if (plan.kind === "keyed" ? plan.write : !READ_PLANS.has(plan.kind)) mayWrite = true;
    if (!resetsSession && mayChangeSession(plan.kind, s.sql)) resetsSession = true;
    if (target === undefined) {
      if (plan.kind === "refused") refusal = withKeyHint(plan.message);
      else placed = placeWrite(map, plan, s);
      continue;
    }
    if (plan.kind === "keyed") checkKeys(map, plan.keyType, plan.keys, s.params, target);
    else if (plan.kind === "insert-split") checkKeys(map, plan.keyType, plan.rows, s.params, target);
  }
  return {
    mayWrite,
    resetsSession,
    ...(placed !== undefined && { placed }),
    ...(refusal !== undefined && { refusal }),
  };
}

/** The wire's hints name its shard-key comment; over HTTP the key goes in body.key. */
const withKeyHint = (message: string) =>
  `${message} (send it with body.key, the key of every row it touches)`;

/**
 * Where a keyless write goes by its own keys (see {@link StatementsChecked.placed}). Run on every
 * shard instead, an INSERT would put each row on every shard, whichever owns it. An INSERT whose
 * rows' keys cannot be known (INSERT … SELECT, DEFAULT or an expression as the key) is refused:
 * nothing but a key can place it.
 */
function placeWrite(
  map: LiveMap,
  plan: StatementPlan,
  s: CheckedStatement,
): ReadonlyMap<number, PlacedStatement> | undefined {
  if (plan.kind === "keyed") {
    if (!plan.write) return undefined;
    const shards = new Set<number>();
    for (const key of plan.keys) {
      const shard = ownerOf(map, plan.keyType, keyValue(key, s.params));
      if (shard !== undefined) shards.add(shard);
    }
    if (shards.size === 0) return undefined;
    return new Map([...shards].map((shard) => [shard, { sql: s.sql, params: s.params }]));
  }
  if (plan.kind === "insert-split") {
    const texts = (s.params ?? []).map((p) => (p === null || p === undefined ? null : String(p)));
    try {
      const parts = splitInsert(plan, texts, (key) => map.lookup.shardFor(hashShardKey(plan.keyType, key)));
      return new Map(
        [...parts].map(([shard, part]) => [
          shard,
          { sql: part.sql, params: part.sourceParams.map((index) => s.params?.[index]) },
        ]),
      );
    } catch (err) {
      if (err instanceof PlanError || err instanceof InvalidShardKeyError) {
        const hint = err instanceof PlanError ? err.hint : undefined;
        throw invalidStatement(s.field, hint === undefined ? err.message : `${err.message} (${hint})`);
      }
      throw err;
    }
  }
  if (plan.kind === "scatter-write" && plan.insertRefusal !== undefined) {
    throw invalidStatement(s.field, withKeyHint(plan.insertRefusal.message));
  }
  return undefined;
}

export function invalidStatement(field: string, message: string): ValidationError {
  return new ValidationError(`Invalid statement: ${message}`, { errors: [{ field, message }] });
}

/** Plans that only read: what a write fence lets through. */
const READ_PLANS = new Set(["scatter", "any", "copy-out", "set", "empty", "transaction"]);

/**
 * Plans of a query (SELECT, INSERT, UPDATE, DELETE, MERGE, COPY TO, SHOW, FETCH, a DECLARE's
 * query, EXPLAIN): they leave nothing in the session unless they call a function that does, or
 * declare a cursor. Every other kind resets: SET/RESET (SET ROLE, SESSION AUTHORIZATION),
 * DISCARD, DEALLOCATE, BEGIN/COMMIT, utility statements (PREPARE, LISTEN, LOAD, DO, CALL,
 * CREATE TEMP …, DDL — refused or not, they run), COPY FROM, and kinds unknown to this list.
 */
const QUERY_PLANS = new Set([
  "keyed",
  "insert-split",
  "scatter",
  "scatter-write",
  "any",
  "copy-out",
  "empty",
]);

/**
 * Names that, anywhere in a query's text, may mean session state: set_config(…, false); the
 * advisory lock functions (pg_advisory_lock*, pg_try_advisory_lock*); dblink_connect and the rest
 * of dblink; DECLARE (… WITH HOLD outlives its transaction: the plan of a DECLARE is its query's);
 * TEMP/TEMPORARY (SELECT … INTO TEMP); and U&"…" identifiers, which can spell any of these
 * names. A superset of what a walk of the parse tree finds — every function a statement calls is
 * named in its text or spelled with U&"…" — read in the text instead: a keyed plan of the planner's
 * shape cache carries no tree, and one scan of a short string costs less than a parse. A match in a
 * string literal or a comment resets too: erring on the side of resetting.
 */
const SESSION_STATE_NAMES = /set_config|advisory|dblink|\bdeclare\b|\btemp(?:orary)?\b|u&["']/i;

/**
 * Whether running a statement of plan `kind` with text `sql` may leave state in the server session
 * that outlives it. State changed inside a function the text does not name (a user function that
 * calls set_config, a trigger) stays possible: the README says so, as PgBouncer's docs do for
 * transaction pooling.
 */
export function mayChangeSession(kind: string, sql: string): boolean {
  return !QUERY_PLANS.has(kind) || SESSION_STATE_NAMES.test(sql);
}

function plannerOf(map: LiveMap): StatementPlanner {
  let planner = planners.get(map.shardedTables);
  if (!planner) {
    planner = new StatementPlanner(map.shardedTables);
    planners.set(map.shardedTables, planner);
  }
  return planner;
}

/** Every key the statement names must belong to the requested shard under this map. */
function checkKeys(
  map: LiveMap,
  keyType: ShardKeyType,
  keys: readonly KeyExpr[],
  params: readonly unknown[] | undefined,
  target: RequestedShard,
): void {
  for (const key of keys) {
    const value = keyValue(key, params);
    const shard = ownerOf(map, keyType, value);
    if (shard !== undefined && shard !== target.index) {
      const named = key.kind === "const" ? `key ${key.value}` : `key $${key.index + 1} = ${String(value)}`;
      const message = `the statement's shard ${named} belongs to shard ${shard}, but ${target.field} routes it to shard ${target.index}`;
      throw new ValidationError(`Shard key mismatch: ${message}`, {
        errors: [{ field: target.field, message }],
      });
    }
  }
}

const keyValue = (key: KeyExpr, params: readonly unknown[] | undefined): unknown =>
  key.kind === "const" ? key.value : params?.[key.index];

/**
 * The shard that owns a key's value under this map; undefined for NULL or a value that is no key
 * of its type — it matches no row anywhere, and PostgreSQL answers the statement.
 */
function ownerOf(map: LiveMap, keyType: ShardKeyType, value: unknown): number | undefined {
  try {
    return map.lookup.shardFor(hashShardKey(keyType, value));
  } catch (err) {
    if (err instanceof InvalidShardKeyError) return undefined;
    throw err;
  }
}
