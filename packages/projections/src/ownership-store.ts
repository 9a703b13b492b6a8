import pg from "pg";

const { escapeLiteral } = pg;

import type { CoordinationTables } from "./coordination-tables.ts";
import { FencedError } from "./errors.ts";
import type { UnitKey } from "./rendezvous.ts";

/** What a replica holds after acquiring a unit. */
export interface Ownership {
  readonly key: UnitKey;
  readonly owner: string;
  readonly token: number;
  readonly checkpoint: number;
}

/** Progress written with a batch: the new checkpoint and what it covered. */
export interface CheckpointAdvance {
  readonly from: number;
  readonly to: number;
  readonly applied: number;
  readonly lastEventTime: string | undefined;
}

/** Acquire, release and fenced checkpoint writes on the units table. */
export class OwnershipStore {
  readonly #pool: pg.Pool;
  readonly #t: CoordinationTables;

  constructor(pool: pg.Pool, tables: CoordinationTables) {
    this.#pool = pool;
    this.#t = tables;
  }

  /**
   * Takes a free unit (compare-and-set on `owner IS NULL`, so two replicas racing for it cannot
   * both win) and bumps its fencing token. Null when someone else got it first.
   */
  async acquire(key: UnitKey, owner: string): Promise<Ownership | null> {
    const { rows } = await this.#pool.query<{ token: number; checkpoint: number }>(
      `WITH taken AS (
         UPDATE ${this.#t.units} SET owner = $4, token = token + 1, owned_since = now()
         WHERE projection = $1 AND generation = $2 AND partition = $3 AND owner IS NULL
         RETURNING projection, generation, partition, token, checkpoint),
       logged AS (
         INSERT INTO ${this.#t.moves} (projection, generation, partition, worker, token, action, checkpoint)
         SELECT projection, generation, partition, $4, token, 'assigned', checkpoint FROM taken)
       SELECT token::float8 AS token, checkpoint::float8 AS checkpoint FROM taken`,
      [key.projection, key.generation, key.partition, owner],
    );
    const row = rows[0];
    return row ? { key, owner, token: row.token, checkpoint: row.checkpoint } : null;
  }

  /** Lets a unit go after its last checkpoint was stored; false if it was no longer ours. */
  async release(own: Ownership): Promise<boolean> {
    const { key } = own;
    const { rowCount } = await this.#pool.query(
      `WITH freed AS (
         UPDATE ${this.#t.units} SET owner = NULL, owned_since = NULL
         WHERE projection = $1 AND generation = $2 AND partition = $3 AND owner = $4 AND token = $5
         RETURNING projection, generation, partition, token, checkpoint)
       INSERT INTO ${this.#t.moves} (projection, generation, partition, worker, token, action, checkpoint)
       SELECT projection, generation, partition, $4, token, 'released', checkpoint FROM freed`,
      [key.projection, key.generation, key.partition, own.owner, own.token],
    );
    return rowCount === 1;
  }

  /**
   * The fenced checkpoint write, first statement of every unit transaction: it locks the unit
   * row, so a take-over waits for this transaction, and matches no row once the token moved on
   * (a replica that was paused past its membership TTL) — then the whole transaction rolls back.
   */
  async advance(tx: pg.ClientBase, own: Ownership, step: CheckpointAdvance): Promise<void> {
    const { rowCount } = await tx.query(this.#advanceSql(own, step));
    if (rowCount !== 1) throw fenced(own);
  }

  /**
   * Runs `work` in one transaction that begins with the fenced checkpoint write (`advance`), sent
   * with its BEGIN as one simple-protocol query: one round trip to PostgreSQL fewer per batch, and
   * a moved unit's first commit waits for each one on a loaded machine (75–95 ms apiece, traced,
   * while a join's replicas caught up). Rolls back if the write is fenced or `work` throws.
   */
  async advanceInTransaction(
    own: Ownership,
    step: CheckpointAdvance,
    work: (tx: pg.PoolClient) => Promise<void>,
  ): Promise<void> {
    const client = await this.#pool.connect();
    try {
      // A multi-statement simple query answers one result per statement: BEGIN's, then the UPDATE's.
      const results = (await client.query(
        `BEGIN; ${this.#advanceSql(own, step)}`,
      )) as unknown as pg.QueryResult[];
      if (results[1]?.rowCount !== 1) throw fenced(own);
      await work(client);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * The checkpoint write with its values inline (the simple protocol has no parameters): numbers
   * checked to be integers, text quoted by node-postgres's `escapeLiteral`.
   */
  #advanceSql(own: Ownership, step: CheckpointAdvance): string {
    const { key } = own;
    const time = step.lastEventTime === undefined ? "NULL" : escapeLiteral(step.lastEventTime);
    return `UPDATE ${this.#t.units}
       SET checkpoint = ${int(step.to)}, checkpoint_at = clock_timestamp(),
           applied_events = applied_events + ${int(step.applied)},
           last_event_time = COALESCE(${time}::timestamptz, last_event_time)
       WHERE projection = ${escapeLiteral(key.projection)} AND generation = ${int(key.generation)}
         AND partition = ${int(key.partition)} AND owner = ${escapeLiteral(own.owner)}
         AND token = ${int(own.token)} AND checkpoint = ${int(step.from)}`;
  }

  /** Runs `work` in one transaction on one pooled connection; rolls back if it throws. */
  async inTransaction<T>(work: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
}

function fenced(own: Ownership): FencedError {
  const { key } = own;
  return new FencedError(
    `unit ${key.projection}/${key.generation}/${key.partition} is no longer owned with token ${own.token}`,
  );
}

/** An integer as SQL text; anything else is a bug upstream, refused rather than written into SQL. */
function int(n: number): string {
  if (!Number.isSafeInteger(n)) throw new TypeError(`expected an integer, got ${n}`);
  return String(n);
}
