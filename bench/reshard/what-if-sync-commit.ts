// A what-if, off unless BENCH_RESHARD_WHATIF_SUB_SYNC_COMMIT is set: the bench itself gives the
// split's subscription `synchronous_commit = <value>` as soon as it appears on the target (the
// router creates it with PostgreSQL's default, off). With off, the target reports an applied
// commit as flushed only after its WAL writer flushed it, and the fences wait for that report
// (waitApplied reads the slot's confirmed_flush_lsn). The value is PostgreSQL's, e.g. `on`.
import { waitFor } from "@dbplane/testkit";
import pg from "pg";

export async function setSubscriptionSyncCommit(target: pg.Pool, value: string): Promise<string> {
  const name = await waitFor(
    async () => {
      const { rows } = await target.query<{ name: string }>(
        "SELECT subname AS name FROM pg_subscription WHERE subname LIKE 'dbplane\\_rs\\_%'",
      );
      return rows[0]?.name;
    },
    { what: "the split's subscription on the target", timeoutMs: 60_000, intervalMs: 10 },
  );
  await target.query(
    `ALTER SUBSCRIPTION ${pg.escapeIdentifier(name)} SET (synchronous_commit = ${pg.escapeLiteral(value)})`,
  );
  return name;
}
