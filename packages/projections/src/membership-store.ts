import type pg from "pg";
import type { CoordinationTables } from "./coordination-tables.ts";
import type { LiveMember } from "./rendezvous.ts";

/** A unit's ownership row as the coordinator reads it. */
export interface UnitRow {
  readonly projection: string;
  readonly generation: number;
  readonly partition: number;
  readonly version: number;
  readonly owner: string | null;
  readonly token: number;
  readonly checkpoint: number;
}

/** Membership: heartbeats, stale-member removal, and the live view every replica hashes over. */
export class MembershipStore {
  readonly #pool: pg.Pool;
  readonly #t: CoordinationTables;

  constructor(pool: pg.Pool, tables: CoordinationTables) {
    this.#pool = pool;
    this.#t = tables;
  }

  /**
   * Records that `id` is alive (re-joining if it had been removed as stale), with its units' lag
   * and where its read-ahead for units it expects starts (`LiveMember.readAhead`).
   */
  async heartbeat(
    id: string,
    capabilities: readonly string[],
    status: object,
    readAhead: Readonly<Record<string, number>> = {},
  ): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#t.members} (id, capabilities, status, read_ahead) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), capabilities = $2, status = $3, read_ahead = $4`,
      [id, capabilities, JSON.stringify(status), JSON.stringify(readAhead)],
    );
  }

  /**
   * Removes members whose heartbeat is older than `staleMs` (the database's clock, so replicas'
   * clocks do not matter) and frees their units. Their fencing tokens stay, so the next owner's
   * acquisition bumps them and a removed-but-alive replica can no longer commit.
   * @returns the ids removed.
   */
  async removeStale(staleMs: number): Promise<string[]> {
    const { rows } = await this.#pool.query<{ id: string }>(
      `WITH dead AS (
         DELETE FROM ${this.#t.members} WHERE heartbeat_at < now() - make_interval(secs => $1::float8 / 1000)
         RETURNING id),
       freed AS (
         UPDATE ${this.#t.units} u SET owner = NULL, owned_since = NULL
         WHERE u.owner IS NOT NULL
           AND (u.owner IN (SELECT id FROM dead)
                OR NOT EXISTS (SELECT 1 FROM ${this.#t.members} m WHERE m.id = u.owner))
         RETURNING u.*)
       , logged AS (
         INSERT INTO ${this.#t.moves} (projection, generation, partition, worker, token, action, checkpoint)
         SELECT projection, generation, partition, 'stale-member-removal', token, 'lost', checkpoint FROM freed)
       SELECT id FROM dead`,
      [staleMs],
    );
    return rows.map((r) => r.id);
  }

  async leave(id: string): Promise<void> {
    await this.#pool.query(`DELETE FROM ${this.#t.members} WHERE id = $1`, [id]);
  }

  /** Live members (sorted by id) and every unit of the building and active generations. */
  async view(): Promise<{ members: LiveMember[]; units: UnitRow[] }> {
    const [members, units] = await Promise.all([
      this.#pool.query<LiveMember>(
        `SELECT id, capabilities, read_ahead AS "readAhead" FROM ${this.#t.members} ORDER BY id`,
      ),
      this.#pool.query<UnitRow>(
        `SELECT u.projection, u.generation, u.partition, g.version, u.owner,
                u.token::float8 AS token, u.checkpoint::float8 AS checkpoint
         FROM ${this.#t.units} u JOIN ${this.#t.generations} g USING (projection, generation)
         WHERE g.state IN ('building', 'active')
         ORDER BY u.projection, u.generation, u.partition`,
      ),
    ]);
    return { members: members.rows, units: units.rows };
  }
}
