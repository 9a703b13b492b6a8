import { type AdminTarget, withConnection } from "./local-server.ts";

/**
 * `synchronous_standby_names` for a shard in synchronous mode: a commit is acknowledged once
 * `replicas` of the listed standbys (by application_name, which is each one's slot name) have
 * flushed it — `ANY n`, quorum, so any n of them will do. n is capped at the standbys there are,
 * and with none the primary commits alone (as Patroni's non-strict synchronous mode does): a
 * shard left without a replica by a failover keeps taking writes rather than hang them all.
 * Empty without synchronous mode.
 */
export function synchronousStandbyNames(replicas: number, standbys: readonly string[]): string {
  const n = Math.min(replicas, standbys.length);
  if (n <= 0) return "";
  return `ANY ${n} (${standbys.map((name) => `"${name.replaceAll('"', "")}"`).join(", ")})`;
}

/**
 * Sets it on a server by ALTER SYSTEM and a reload, only when it differs. Works on a standby too
 * (a failover sets it on the replica it is about to promote, so the new primary's first commit
 * already waits for the right standbys, and never for the ones a base backup copied from the old
 * primary's postgresql.auto.conf — itself among them).
 */
export async function applySynchronousStandbys(
  server: AdminTarget,
  password: string,
  value: string,
): Promise<boolean> {
  return withConnection(server, password, "postgres", async (client) => {
    const { rows } = await client.query<{ v: string }>(
      "SELECT current_setting('synchronous_standby_names') AS v",
    );
    if ((rows[0]?.v ?? "") === value) return false;
    await client.query(`ALTER SYSTEM SET synchronous_standby_names = ${client.escapeLiteral(value)}`);
    await client.query("SELECT pg_reload_conf()");
    return true;
  });
}
