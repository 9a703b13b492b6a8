import { shardFailedOver } from "@dbplane/contracts";
import { aggregateOf, eventIds } from "../domain/database-spec.ts";
import { enqueueReady } from "./database-progress.ts";
import { enqueueEvent } from "./outbox.ts";
import type { ProgressContext } from "./progress-context.ts";
import { type ShardEndpoint, toDatabase } from "./rows.ts";

/** A shard's primary replaced by a failover, as the watcher saw it done. */
export interface ShardFailoverFacts {
  readonly database: string;
  readonly shard: number;
  readonly oldPrimary: { readonly host: string; readonly port: number };
  readonly newPrimary: { readonly host: string; readonly port: number };
  readonly lsn: string;
  readonly endpoint: ShardEndpoint;
}

/**
 * Records the shard's new endpoint and, in the same transaction, `shard.failed-over` and — for a
 * ready database — `database.ready` again with every shard (the router takes the new primary
 * from it, as it takes any changed endpoint). Whatever version the database is at: a failover is
 * not a change of its spec. False when the database or the shard is gone.
 */
export async function recordShardFailedOver(
  { pool, t }: ProgressContext,
  facts: ShardFailoverFacts,
): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const found = await client.query(`SELECT * FROM ${t.databases} WHERE name = $1 FOR UPDATE`, [
      facts.database,
    ]);
    const db = found.rows[0] ? toDatabase(found.rows[0]) : undefined;
    const { rowCount } = db
      ? await client.query(
          `UPDATE ${t.shards} SET endpoint = $3, updated_at = now() WHERE database = $1 AND shard = $2`,
          [facts.database, facts.shard, JSON.stringify(facts.endpoint)],
        )
      : { rowCount: 0 };
    if (!db || rowCount === 0) {
      await client.query("ROLLBACK");
      return false;
    }
    // The next reconcile pass comes at once, not after the resync interval: it re-joins the old
    // primary as a replica (or makes a new one) and re-applies the synchronous standbys.
    await client.query(`UPDATE ${t.databases} SET last_reconciled_at = NULL WHERE name = $1`, [
      facts.database,
    ]);
    const newServer = `${facts.newPrimary.host}:${facts.newPrimary.port}`;
    const id = eventIds.shardFailedOver(facts.database, facts.shard, newServer, facts.lsn);
    await enqueueEvent(
      client,
      t,
      shardFailedOver,
      {
        database: facts.database,
        shard: facts.shard,
        oldPrimary: facts.oldPrimary,
        newPrimary: facts.newPrimary,
        lsn: facts.lsn,
        replicas: [...facts.endpoint.replicas],
      },
      { id, subject: aggregateOf.shard(facts.database, facts.shard), correlationId: id },
    );
    if (db.state === "ready") {
      const { rows } = await client.query(
        `SELECT shard, endpoint FROM ${t.shards} WHERE database = $1 AND state = 'ready' ORDER BY shard`,
        [facts.database],
      );
      await enqueueReady(client, t, {
        name: db.name,
        version: db.version,
        db,
        shards: rows,
        application: found.rows[0].application ?? undefined,
        correlationId: id,
        id: `${eventIds.ready(db.name, db.version)}:${id}`,
      });
    }
    await client.query("COMMIT");
    return true;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
