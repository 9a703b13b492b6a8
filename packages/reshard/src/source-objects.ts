import { randomBytes } from "node:crypto";
import { createScramVerifier } from "@dbplane/pgwire";
import pg from "pg";
import type { RangeMoveSpec } from "./range-move-spec.ts";
import { quotedTable, rangeFilter } from "./range-sql.ts";

/** What start() records on the publication (its COMMENT), so a restarted caller can read it back. */
export interface MoveRecord {
  /**
   * Rows of the range per table: the planner's estimate until the initial copy ended, then the rows
   * it copied (the range as the slot's snapshot saw it).
   */
  readonly rowsTotal: Readonly<Record<string, number>>;
  /** The initial copy ended and committed on the target; absent or false: it must (re)run. */
  readonly copied?: boolean;
}

/** The publication's record, or undefined when there is no publication (not started, or finished). */
export async function readMoveRecord(client: pg.Client, name: string): Promise<MoveRecord | undefined> {
  const { rows } = await client.query<{ comment: string | null }>(
    "SELECT obj_description(oid, 'pg_publication') AS comment FROM pg_publication WHERE pubname = $1",
    [name],
  );
  if (rows.length === 0) return undefined;
  const comment = rows[0]?.comment;
  return comment ? (JSON.parse(comment) as MoveRecord) : { rowsTotal: {} };
}

/**
 * Creates the replication role, or gives an existing one a new password (the old one was never
 * kept). LOGIN REPLICATION and SELECT on the moved tables only. The password goes to the server as
 * a SCRAM verifier, so a statement log on the source does not hold it; it returns to the caller
 * for the subscription's connection string and is never logged.
 */
export async function ensureRole(client: pg.Client, name: string, spec: RangeMoveSpec): Promise<string> {
  const password = randomBytes(24).toString("hex");
  const role = pg.escapeIdentifier(name);
  const verifier = pg.escapeLiteral(createScramVerifier(password));
  const { rowCount } = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [name]);
  await client.query(
    rowCount
      ? `ALTER ROLE ${role} WITH LOGIN REPLICATION PASSWORD ${verifier}`
      : `CREATE ROLE ${role} WITH LOGIN REPLICATION PASSWORD ${verifier}`,
  );
  const db = await client.query<{ name: string }>("SELECT current_database() AS name");
  await client.query(`GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(db.rows[0]!.name)} TO ${role}`);
  for (const t of spec.tables) {
    const { rows } = await client.query<{ schema: string }>(
      "SELECT relnamespace::regnamespace::text AS schema FROM pg_class WHERE oid = to_regclass($1)",
      [quotedTable(t.table)],
    );
    // regnamespace's text is already quoted where the name needs it.
    await client.query(`GRANT USAGE ON SCHEMA ${rows[0]!.schema} TO ${role}`);
    await client.query(`GRANT SELECT ON ${quotedTable(t.table)} TO ${role}`);
  }
  return password;
}

/**
 * The publication of the range: sharded tables with the hash row filter, unsharded ones whole.
 * TRUNCATE is not published — one on the source must not empty the target's copy (verify then
 * reports the difference). Created with its record in one transaction: a publication without it
 * never exists.
 */
export async function createPublication(
  client: pg.Client,
  name: string,
  spec: RangeMoveSpec,
  record: MoveRecord,
): Promise<void> {
  const members = spec.tables.map((t) => {
    const filter = rangeFilter(t, spec.from, spec.to);
    return filter === null ? quotedTable(t.table) : `${quotedTable(t.table)} WHERE (${filter})`;
  });
  await client.query("BEGIN");
  try {
    await client.query(
      `CREATE PUBLICATION ${pg.escapeIdentifier(name)} FOR TABLE ${members.join(", ")}
         WITH (publish = 'insert, update, delete')`,
    );
    await client.query(
      `COMMENT ON PUBLICATION ${pg.escapeIdentifier(name)} IS ${pg.escapeLiteral(JSON.stringify(record))}`,
    );
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  }
}

/** Replaces the publication's record (the copy's end: `copied` and the exact totals). */
export async function writeMoveRecord(client: pg.Client, name: string, record: MoveRecord): Promise<void> {
  await client.query(
    `COMMENT ON PUBLICATION ${pg.escapeIdentifier(name)} IS ${pg.escapeLiteral(JSON.stringify(record))}`,
  );
}
