import type { StoreContext } from "./store-context.ts";

/** What a replica reports about itself on each heartbeat. */
export interface ReplicaBeat {
  /** The database time of its last completed claim round. */
  readonly lastTickAt: Date | null;
  /** Its estimate of the database's clock minus its own, in ms. */
  readonly clockOffsetMs: number;
  /** Occurrences it holds (armed, publishing or unrecorded). */
  readonly held: number;
  /** Target publishes waiting or awaiting their ack. */
  readonly publishBacklog: number;
}

/** A live replica as listed: its last beat, and the jobs it holds claimed now. */
export interface ReplicaRecord extends ReplicaBeat {
  readonly id: string;
  readonly startedAt: Date;
  readonly seenAt: Date;
  readonly expiresAt: Date;
  readonly claims: number;
}

/** Records a replica's beat, live until a lease from now; forgets replicas gone for an hour. */
export async function beat(ctx: StoreContext, owner: string, leaseMs: number, b: ReplicaBeat): Promise<void> {
  await ctx.pool.query(
    `INSERT INTO ${ctx.t.replicas} AS r (id, expires_at, last_tick_at, clock_offset_ms, held, publish_backlog)
     VALUES ($1, now() + $2 * interval '1 millisecond', $3, $4, $5, $6)
     ON CONFLICT (id) DO UPDATE SET seen_at = now(), expires_at = excluded.expires_at,
       last_tick_at = excluded.last_tick_at, clock_offset_ms = excluded.clock_offset_ms,
       held = excluded.held, publish_backlog = excluded.publish_backlog`,
    [owner, leaseMs, b.lastTickAt, b.clockOffsetMs, b.held, b.publishBacklog],
  );
  await ctx.pool.query(`DELETE FROM ${ctx.t.replicas} WHERE expires_at < now() - interval '1 hour'`);
}

/** A replica that stopped cleanly leaves the list at once. */
export async function forgetReplica(ctx: StoreContext, owner: string): Promise<void> {
  await ctx.pool.query(`DELETE FROM ${ctx.t.replicas} WHERE id = $1`, [owner]);
}

/** Replicas whose last beat is less than a lease old, by id, each with its unexpired claims. */
export async function listReplicas(ctx: StoreContext): Promise<ReplicaRecord[]> {
  const { rows } = await ctx.pool.query<{
    id: string;
    started_at: Date;
    seen_at: Date;
    expires_at: Date;
    last_tick_at: Date | null;
    clock_offset_ms: number;
    held: number;
    publish_backlog: number;
    claims: string;
  }>(
    `SELECT r.*, (SELECT count(*) FROM ${ctx.t.jobs} j
                  WHERE j.claimed_by = r.id AND j.claim_expires_at > now()) AS claims
     FROM ${ctx.t.replicas} r WHERE r.expires_at > now() ORDER BY r.id`,
  );
  return rows.map((r) => ({
    id: r.id,
    startedAt: r.started_at,
    seenAt: r.seen_at,
    expiresAt: r.expires_at,
    lastTickAt: r.last_tick_at,
    clockOffsetMs: r.clock_offset_ms,
    held: r.held,
    publishBacklog: r.publish_backlog,
    claims: Number(r.claims),
  }));
}
