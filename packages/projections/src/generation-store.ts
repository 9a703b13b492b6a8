import { DomainError, ERROR_KINDS } from "@dbplane/contracts";
import type pg from "pg";
import type { CoordinationTables } from "./coordination-tables.ts";
import {
  type ProjectionDefinition,
  ProjectionDefinitionError,
  projectionTables,
  tablePattern,
} from "./projection.ts";

export interface GenerationRow {
  readonly projection: string;
  readonly generation: number;
  readonly version: number;
  readonly partitions: number;
  readonly state: "building" | "active" | "retired";
  readonly catchUpTo: number;
  readonly createdAt: Date;
  readonly activatedAt: Date | null;
}

/** A rebuild was asked for while another generation of the projection is still building. */
export class RebuildInProgressError extends DomainError {
  override readonly name = "RebuildInProgressError";
  constructor(message: string) {
    super(ERROR_KINDS.conflict, "REBUILD_IN_PROGRESS", message);
  }
}

const COLUMNS = `projection, generation, version, partitions, state, catch_up_to::float8 AS "catchUpTo",
  created_at AS "createdAt", activated_at AS "activatedAt"`;

/**
 * Generations of a projection's tables (blue/green): a new version or a rebuild builds a new
 * generation from the first event while the active one serves reads, then takes over in one
 * transaction. Every change holds a transaction-scoped advisory lock on the projection, so
 * replicas starting together create each generation once.
 */
export class GenerationStore {
  readonly #pool: pg.Pool;
  readonly #t: CoordinationTables;
  readonly #readSchema: string;

  constructor(pool: pg.Pool, tables: CoordinationTables, readSchema: string) {
    this.#pool = pool;
    this.#t = tables;
    this.#readSchema = readSchema;
  }

  async #locked<T>(projection: string, work: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
    const tx = await this.#pool.connect();
    try {
      await tx.query("BEGIN");
      await tx.query("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", [
        `dbplane.projections.${this.#t.schema}`,
        projection,
      ]);
      const result = await work(tx);
      await tx.query("COMMIT");
      return result;
    } catch (err) {
      await tx.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      tx.release();
    }
  }

  async list(projection?: string): Promise<GenerationRow[]> {
    const { rows } = await this.#pool.query<GenerationRow>(
      `SELECT ${COLUMNS} FROM ${this.#t.generations} WHERE $1::text IS NULL OR projection = $1 ORDER BY projection, generation`,
      [projection ?? null],
    );
    return rows;
  }

  async active(projection: string): Promise<GenerationRow | undefined> {
    const { rows } = await this.#pool.query<GenerationRow>(
      `SELECT ${COLUMNS} FROM ${this.#t.generations} WHERE projection = $1 AND state = 'active'`,
      [projection],
    );
    return rows[0];
  }

  /**
   * Makes sure a generation runs this code's version: the first one becomes active at once;
   * a newer version than the active one starts building beside it.
   */
  async ensure(definition: ProjectionDefinition): Promise<void> {
    await this.#locked(definition.name, async (tx) => {
      const { rows } = await tx.query<GenerationRow>(
        `SELECT ${COLUMNS} FROM ${this.#t.generations} WHERE projection = $1 AND state <> 'retired'`,
        [definition.name],
      );
      const same = rows.find((g) => g.version === definition.version);
      if (same && same.partitions !== definition.partitions) {
        throw new ProjectionDefinitionError(
          `${definition.name}@${definition.version} runs with ${same.partitions} partitions; changing the count needs a new version`,
        );
      }
      if (rows.some((g) => g.version >= definition.version)) return;
      // An older version still building is superseded: retire it (its units stop) and build this one.
      await tx.query(
        `UPDATE ${this.#t.generations} SET state = 'retired', retired_at = now() WHERE projection = $1 AND state = 'building'`,
        [definition.name],
      );
      await this.#create(tx, definition, rows.every((g) => g.state !== "active") ? "active" : "building");
    });
  }

  /** Starts building a new generation of the same version from the first event. */
  async rebuild(definition: ProjectionDefinition): Promise<GenerationRow> {
    return this.#locked(definition.name, async (tx) => {
      const { rows } = await tx.query(
        `SELECT 1 FROM ${this.#t.generations} WHERE projection = $1 AND state = 'building'`,
        [definition.name],
      );
      if (rows.length > 0)
        throw new RebuildInProgressError(`a generation of ${definition.name} is already building`);
      return this.#create(tx, definition, "building");
    });
  }

  async #create(
    tx: pg.PoolClient,
    definition: ProjectionDefinition,
    state: "active" | "building",
  ): Promise<GenerationRow> {
    const { rows } = await tx.query<GenerationRow>(
      `INSERT INTO ${this.#t.generations} (projection, generation, version, partitions, state, catch_up_to, activated_at)
       SELECT $1, COALESCE(max(generation), 0) + 1, $2, $3, $4::text,
              COALESCE((SELECT max(u.checkpoint) FROM ${this.#t.units} u JOIN ${this.#t.generations} g USING (projection, generation)
                        WHERE g.projection = $1 AND g.state = 'active'), 0),
              CASE WHEN $4::text = 'active' THEN now() END
       FROM ${this.#t.generations} WHERE projection = $1
       RETURNING ${COLUMNS}`,
      [definition.name, definition.version, definition.partitions, state],
    );
    const created = rows[0]!;
    await definition.setup(tx, projectionTables(this.#readSchema, definition.name, created.generation));
    await tx.query(
      `INSERT INTO ${this.#t.units} (projection, generation, partition) SELECT $1, $2, p FROM generate_series(0, $3 - 1) p`,
      [definition.name, created.generation, definition.partitions],
    );
    return created;
  }

  /**
   * Switches every building generation that caught up: all its units are past `catch_up_to`
   * and past the active generation's slowest unit, so reads never go back in time. Returns
   * the projections switched (by this call: when replicas switch at once, one of them does).
   */
  async switchCaughtUp(): Promise<{ projection: string; generation: number }[]> {
    const { rows } = await this.#pool.query<{ projection: string; generation: number }>(
      `SELECT b.projection, b.generation FROM ${this.#t.generations} b
       WHERE b.state = 'building'
         AND (SELECT min(checkpoint) FROM ${this.#t.units} u WHERE u.projection = b.projection AND u.generation = b.generation)
             >= GREATEST(b.catch_up_to, COALESCE((SELECT min(u.checkpoint) FROM ${this.#t.units} u
                 JOIN ${this.#t.generations} a USING (projection, generation) WHERE a.projection = b.projection AND a.state = 'active'), 0))`,
    );
    const switched: { projection: string; generation: number }[] = [];
    for (const row of rows) {
      // The candidates were read outside the lock: another replica may have switched (or a newer
      // version retired the build) since. Retiring "the active one" unconditionally here retired
      // the generation another replica had just activated, leaving none active — the version
      // switch that stalled in CI. So: only while the candidate is still building.
      const done = await this.#locked(row.projection, async (tx) => {
        await tx.query(
          `UPDATE ${this.#t.generations} SET state = 'retired', retired_at = now()
           WHERE projection = $1 AND state = 'active'
             AND EXISTS (SELECT 1 FROM ${this.#t.generations} WHERE projection = $1 AND generation = $2 AND state = 'building')`,
          [row.projection, row.generation],
        );
        const activated = await tx.query(
          `UPDATE ${this.#t.generations} SET state = 'active', activated_at = now() WHERE projection = $1 AND generation = $2 AND state = 'building'`,
          [row.projection, row.generation],
        );
        return activated.rowCount === 1;
      });
      if (done) switched.push(row);
    }
    return switched;
  }

  /** Drops the tables and units of generations retired longer than `ttlMs` ago (in-flight reads finish first). */
  async dropRetired(ttlMs: number): Promise<number> {
    const { rows } = await this.#pool.query<{ projection: string; generation: number }>(
      `SELECT projection, generation FROM ${this.#t.generations}
       WHERE state = 'retired' AND NOT tables_dropped AND retired_at < now() - make_interval(secs => $1::float8 / 1000)`,
      [ttlMs],
    );
    for (const g of rows) {
      await this.#locked(g.projection, async (tx) => {
        const tables = await tx.query<{ name: string }>(
          `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables WHERE schemaname = $1 AND tablename LIKE $2`,
          [this.#readSchema, tablePattern(g.projection, g.generation)],
        );
        for (const t of tables.rows) await tx.query(`DROP TABLE IF EXISTS ${t.name} CASCADE`);
        await tx.query(`DELETE FROM ${this.#t.units} WHERE projection = $1 AND generation = $2`, [
          g.projection,
          g.generation,
        ]);
        await tx.query(
          `UPDATE ${this.#t.generations} SET tables_dropped = true WHERE projection = $1 AND generation = $2`,
          [g.projection, g.generation],
        );
      });
    }
    return rows.length;
  }
}
