import pg from "pg";
import { MOVE_OBJECT_PREFIX, type RangeMoveSpec } from "./range-move-spec.ts";
import { quotedTable, rangeFilter } from "./range-sql.ts";

/** Row-level security as it was before a move hid rows: restored by revealRange. */
interface PriorSecurity {
  readonly rls: boolean;
  readonly force: boolean;
}

/** How long hiding or revealing waits for a table's lock before it gives up (to be retried). */
const LOCK_TIMEOUT_MS = 2_000;

const hidePolicy = (name: string) => `${name}_hide`;
const allPolicy = (name: string) => `${name}_all`;

/**
 * Hides the moved range's rows of every sharded table on a target that already serves other
 * ranges, from every role but superusers (the subscription applies as one): a restrictive policy
 * `NOT (range)`, with FORCE so the tables' owner — the application role the router connects as —
 * is bound too. Without it a scatter read on the target would count a copied row that the source
 * still owns. A table without row-level security gets a permissive `true` policy beside it, so
 * nothing else changes for it; one that had policies keeps them. Idempotent; the prior settings
 * ride in the policy's comment for revealRange.
 */
export async function hideRange(target: pg.Client, name: string, spec: RangeMoveSpec): Promise<void> {
  for (const table of spec.tables) {
    const filter = rangeFilter(table, spec.from, spec.to);
    if (filter === null) continue;
    const t = quotedTable(table.table);
    await target.query("BEGIN");
    try {
      // ALTER TABLE waits for every reader of the table, and queues every new one behind it: give
      // up soon (the caller retries) rather than stall the application behind a long query.
      await target.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT_MS}ms'`);
      const { rows } = await target.query<{ rls: boolean; force: boolean; hidden: boolean }>(
        `SELECT c.relrowsecurity AS rls, c.relforcerowsecurity AS force,
                EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = $2) AS hidden
           FROM pg_class c WHERE c.oid = $1::regclass`,
        [t, hidePolicy(name)],
      );
      const row = rows[0]!;
      if (!row.hidden) {
        const prior: PriorSecurity = { rls: row.rls, force: row.force };
        if (!prior.rls) {
          await target.query(
            `CREATE POLICY ${pg.escapeIdentifier(allPolicy(name))} ON ${t} AS PERMISSIVE USING (true) WITH CHECK (true)`,
          );
        }
        await target.query(
          `CREATE POLICY ${pg.escapeIdentifier(hidePolicy(name))} ON ${t} AS RESTRICTIVE USING (NOT (${filter}))`,
        );
        await target.query(
          `COMMENT ON POLICY ${pg.escapeIdentifier(hidePolicy(name))} ON ${t} IS ${pg.escapeLiteral(JSON.stringify(prior))}`,
        );
        await target.query(`ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY`);
      }
      await target.query("COMMIT");
    } catch (err) {
      await target.query("ROLLBACK").catch(() => {});
      throw err;
    }
  }
}

/** Undoes hideRange: the policies dropped, row-level security as it was before. Idempotent. */
export async function revealRange(target: pg.Client, name: string, spec: RangeMoveSpec): Promise<void> {
  for (const table of spec.tables) {
    if (rangeFilter(table, spec.from, spec.to) === null) continue;
    await revealTable(target, name, quotedTable(table.table));
  }
}

/**
 * revealRange for one table (`table` as SQL, quoted where it needs to be): move `name`'s policies
 * dropped, row-level security as it was before. Idempotent.
 */
export async function revealTable(target: pg.Client, name: string, table: string): Promise<void> {
  const { rows } = await target.query<{ comment: string | null }>(
    `SELECT obj_description(p.oid, 'pg_policy') AS comment FROM pg_policy p
      WHERE p.polrelid = to_regclass($1) AND p.polname = $2`,
    [table, hidePolicy(name)],
  );
  if (!rows[0]) return;
  const prior = JSON.parse(rows[0].comment ?? '{"rls":false,"force":false}') as PriorSecurity;
  await target.query("BEGIN");
  try {
    await target.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT_MS}ms'`);
    await target.query(`DROP POLICY IF EXISTS ${pg.escapeIdentifier(hidePolicy(name))} ON ${table}`);
    await target.query(`DROP POLICY IF EXISTS ${pg.escapeIdentifier(allPolicy(name))} ON ${table}`);
    if (!prior.rls) await target.query(`ALTER TABLE ${table} DISABLE ROW LEVEL SECURITY`);
    if (!prior.force) await target.query(`ALTER TABLE ${table} NO FORCE ROW LEVEL SECURITY`);
    await target.query("COMMIT");
  } catch (err) {
    await target.query("ROLLBACK").catch(() => {});
    throw err;
  }
}

/**
 * Every table of the current database where a move hid rows (hideRange), with the move's name:
 * what a restored copy of a shard taken mid-move carries, for revealTable.
 */
export async function hiddenTables(client: pg.Client): Promise<{ name: string; table: string }[]> {
  const suffix = hidePolicy("");
  const { rows } = await client.query<{ name: string; table: string }>(
    `SELECT left(polname, -length($2)) AS name, polrelid::regclass::text AS "table" FROM pg_policy
      WHERE starts_with(polname, $1) AND right(polname, length($2)) = $2 ORDER BY 2, 1`,
    [MOVE_OBJECT_PREFIX, suffix],
  );
  return rows;
}
