import { DomainError, ERROR_KINDS } from "@dbplane/contracts";
import type pg from "pg";
import type { CoordinationTables } from "./coordination-tables.ts";
import { sourceRefusal } from "./event-decoding.ts";
import { type ProjectionDefinition, type ProjectionEvent, projectionTables } from "./projection.ts";
import type { UnitKey } from "./rendezvous.ts";

/** A parked event as the API shows it. */
export interface ParkedEvent {
  readonly id: number;
  readonly projection: string;
  readonly generation: number;
  readonly partition: number;
  readonly streamSeq: number;
  readonly event: ProjectionEvent;
  readonly reason: string;
  readonly attempts: number;
  readonly state: "parked" | "resolved";
  readonly parkedAt: Date;
  readonly resolvedAt: Date | null;
}

export class ParkedNotFoundError extends DomainError {
  override readonly name = "ParkedNotFoundError";
  constructor(message: string) {
    super(ERROR_KINDS.notFound, "PARKED_NOT_FOUND", message);
  }
}
export class ParkedResolvedError extends DomainError {
  override readonly name = "ParkedResolvedError";
  constructor(message: string) {
    super(ERROR_KINDS.conflict, "PARKED_RESOLVED", message);
  }
}
/**
 * The handler failed again on retry; the event stays parked with the new reason. The request was
 * fine: the event cannot be applied (yet).
 */
export class RetryFailedError extends DomainError {
  override readonly name = "RetryFailedError";
  constructor(message: string, options: ErrorOptions = {}) {
    super(ERROR_KINDS.unprocessable, "RETRY_FAILED", message, options);
  }
}

const COLUMNS = `id::float8 AS id, projection, generation, partition, stream_seq::float8 AS "streamSeq", event, reason,
  attempts, state, parked_at AS "parkedAt", resolved_at AS "resolvedAt"`;

/** Poison events: parked in the unit's transaction, listed, and re-applied on request. */
export class ParkedStore {
  readonly #pool: pg.Pool;
  readonly #t: CoordinationTables;

  constructor(pool: pg.Pool, tables: CoordinationTables) {
    this.#pool = pool;
    this.#t = tables;
  }

  async park(
    tx: pg.ClientBase,
    key: UnitKey,
    event: ProjectionEvent,
    reason: string,
    attempts: number,
  ): Promise<void> {
    await tx.query(
      `INSERT INTO ${this.#t.parked} (projection, generation, partition, stream_seq, event, reason, attempts)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        key.projection,
        key.generation,
        key.partition,
        event.seq,
        JSON.stringify(event),
        reason.slice(0, 2_000),
        attempts,
      ],
    );
  }

  async list(query: {
    projection?: string;
    state?: string;
    limit: number;
    after?: number;
  }): Promise<ParkedEvent[]> {
    const { rows } = await this.#pool.query<ParkedEvent>(
      `SELECT ${COLUMNS} FROM ${this.#t.parked}
       WHERE ($1::text IS NULL OR projection = $1) AND ($2::text IS NULL OR state = $2) AND id > $3
       ORDER BY id LIMIT $4`,
      [query.projection ?? null, query.state ?? null, query.after ?? 0, query.limit],
    );
    return rows;
  }

  /**
   * Re-applies a parked event through its projection's handler, in one transaction with marking
   * it resolved. The event lands in the tables of the generation it was parked in.
   */
  async retry(
    id: number,
    definitions: ReadonlyMap<string, ProjectionDefinition>,
    readSchema: string,
  ): Promise<ParkedEvent> {
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      const { rows } = await client.query<ParkedEvent>(
        `SELECT ${COLUMNS} FROM ${this.#t.parked} WHERE id = $1 FOR UPDATE`,
        [id],
      );
      const row = rows[0];
      if (!row) throw new ParkedNotFoundError(`no parked event ${id}`);
      if (row.state === "resolved")
        throw new ParkedResolvedError(`parked event ${id} was already re-applied`);
      // A forged event stays parked: retrying must not apply what the runtime refused to trust.
      const refusal = sourceRefusal(row.event);
      if (refusal) throw new RetryFailedError(refusal.message);
      const definition = definitions.get(row.projection);
      if (!definition) throw new RetryFailedError(`this replica does not run projection ${row.projection}`);
      try {
        await definition.handle(
          row.event,
          client,
          projectionTables(readSchema, row.projection, row.generation),
        );
      } catch (err) {
        await client.query("ROLLBACK");
        const reason = `retry failed: ${(err as Error).message}`;
        await this.#pool.query(
          `UPDATE ${this.#t.parked} SET attempts = attempts + 1, reason = $2 WHERE id = $1`,
          [id, reason],
        );
        throw new RetryFailedError(reason, { cause: err });
      }
      const updated = await client.query<ParkedEvent>(
        `UPDATE ${this.#t.parked} SET state = 'resolved', resolved_at = now(), attempts = attempts + 1
         WHERE id = $1 RETURNING ${COLUMNS}`,
        [id],
      );
      await client.query("COMMIT");
      return updated.rows[0]!;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
}
