import { readdir, readFile, realpath } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { SUPERUSER } from "./cluster-files.ts";
import { isRunning, portOf, type ServerContext, withConnection } from "./local-server.ts";
import { ensureSlot, followPrimary, slotNameOf } from "./replication-slots.ts";
import { runProgram } from "./run-program.ts";
import { fence, isFenced, leaderOf, recordLeader } from "./shard-leader.ts";
import { applySynchronousStandbys, synchronousStandbyNames } from "./synchronous-standbys.ts";

const replicaDir = /^replica-\d+$/;

/**
 * A login refused for its password or role, or a database that is not there: the server on the
 * port is not this data directory's (whose superuser password we hold) — after a crash another
 * cluster can take the freed port.
 */
const ANOTHER_SERVER = new Set(["28P01", "28000", "3D000"]);

/**
 * Whether the server of a data directory answers within `timeoutMs`. An error with a SQLSTATE
 * counts too: a primary out of connections (53300) or still in crash recovery (57P03) is alive,
 * and failing it over would throw away a working server. Down is silence (a refused or timed-out
 * connection, a connection closed without a word) or another server on its port: one that
 * refuses our login, or whose `data_directory` is not this one.
 */
export async function answers(dataDir: string, ctx: ServerContext, timeoutMs: number): Promise<boolean> {
  let port: number;
  try {
    port = await portOf(dataDir);
  } catch {
    return false;
  }
  const client = new pg.Client({
    host: "127.0.0.1",
    port,
    user: SUPERUSER,
    password: ctx.password,
    database: "postgres",
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    ...(ctx.ca && { ssl: { ca: await readFile(ctx.ca.certPath, "utf8"), rejectUnauthorized: true } }),
  });
  client.on("error", () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ dir: string }>("SELECT current_setting('data_directory') AS dir");
    return await sameDirectory(rows[0]!.dir, dataDir);
  } catch (err) {
    // pg's DatabaseError is an ErrorResponse from the server; socket errors and timeouts are not.
    return err instanceof pg.DatabaseError && !ANOTHER_SERVER.has(err.code ?? "");
  } finally {
    await client.end().catch(() => {});
  }
}

async function sameDirectory(reported: string, dataDir: string): Promise<boolean> {
  try {
    return (await realpath(reported)) === (await realpath(dataDir));
  } catch {
    return false;
  }
}

/** `X/Y` (pg_lsn text) as a number that orders like the LSN. */
export const lsnValue = (lsn: string): bigint => {
  const [hi = "0", lo = "0"] = lsn.split("/");
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
};

interface Candidate {
  readonly server: string;
  readonly port: number;
  /** Already promoted (a failover interrupted after the promotion): it is the one. */
  readonly promoted: boolean;
  readonly lsn: string;
}

/** A running replica's position: the WAL it received (or replayed, whichever is further). */
async function candidateOf(dir: string, server: string, ctx: ServerContext): Promise<Candidate | undefined> {
  const dataDir = join(dir, server);
  if ((await isFenced(dir, server)) || !(await isRunning(dataDir, ctx))) return undefined;
  const port = await portOf(dataDir);
  try {
    return await withConnection({ port, ca: ctx.ca }, ctx.password, "postgres", async (client) => {
      const { rows } = await client.query<{
        recovery: boolean;
        received: string | null;
        replayed: string | null;
        current: string | null;
      }>(
        `SELECT pg_is_in_recovery() AS recovery, pg_last_wal_receive_lsn()::text AS received,
                pg_last_wal_replay_lsn()::text AS replayed,
                CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current`,
      );
      const row = rows[0];
      if (!row) return undefined;
      const positions = [row.received, row.replayed, row.current].filter((l): l is string => l !== null);
      const lsn = positions.sort((a, b) => (lsnValue(a) < lsnValue(b) ? 1 : -1))[0] ?? "0/0";
      return { server, port, promoted: !row.recovery, lsn };
    });
  } catch {
    // Running but not answering: not a server to promote.
    return undefined;
  }
}

/** What a failover did. */
export type LocalFailover =
  | { readonly kind: "not-needed" }
  | { readonly kind: "no-replica"; readonly reason: string }
  | {
      readonly kind: "promoted";
      readonly oldServer: string;
      readonly oldPort: number;
      readonly newServer: string;
      readonly newPort: number;
      readonly lsn: string;
      readonly replicaPorts: readonly number[];
    };

/**
 * Replaces a shard's primary that does not answer by its most advanced replica. In order, each
 * step safe to repeat after a crash: the old primary is fenced (marker first, then killed if its
 * postmaster still runs — it must never accept a write again), the replica with the highest
 * received LSN is promoted (`pg_ctl promote`), the `leader` file names it, and the other replicas
 * follow it through their slots on it. In synchronous mode (`synchronousReplicas` > 0) the
 * promoted one lists the other running replicas as its synchronous standbys before it takes its
 * first write. No running replica: nothing is touched.
 */
export async function failOverShard(
  dir: string,
  ctx: ServerContext,
  probeTimeoutMs: number,
  synchronousReplicas = 0,
): Promise<LocalFailover> {
  const old = await leaderOf(dir);
  const oldDir = join(dir, old);
  if (!(await isFenced(dir, old)) && (await answers(oldDir, ctx, probeTimeoutMs)))
    return { kind: "not-needed" };
  // `primary` too: after a failover it may have come back as a replica (re-joined).
  const servers = (await readdir(dir)).filter((e) => (replicaDir.test(e) || e === "primary") && e !== old);
  const candidates = (await Promise.all(servers.map((s) => candidateOf(dir, s, ctx)))).filter(
    (c): c is Candidate => c !== undefined,
  );
  const chosen =
    candidates.find((c) => c.promoted) ??
    candidates.sort((a, b) => (lsnValue(a.lsn) < lsnValue(b.lsn) ? 1 : -1))[0];
  if (!chosen) return { kind: "no-replica", reason: `no running replica of ${old} to promote` };
  const oldPort = await portOf(oldDir);
  await fence(dir, old, `replaced by ${chosen.server} at ${chosen.lsn}`);
  await killPostmaster(oldDir, ctx);
  // Before the promotion: the new primary's first commit already waits for the remaining replicas.
  const others = candidates.filter((c) => c.server !== chosen.server).map((c) => slotNameOf(c.server));
  await applySynchronousStandbys(
    { port: chosen.port, ca: ctx.ca },
    ctx.password,
    synchronousStandbyNames(synchronousReplicas, others),
  );
  if (!chosen.promoted) {
    await runProgram(
      ctx.bins.path("pg_ctl"),
      ["promote", "-D", join(dir, chosen.server), "-w", "-t", "60", "-s"],
      {
        user: ctx.user,
        timeoutMs: 90_000,
      },
    );
  }
  await recordLeader(dir, chosen.server);
  const replicaPorts: number[] = [];
  for (const other of candidates) {
    if (other.server === chosen.server) continue;
    const slot = slotNameOf(other.server);
    await ensureSlot({ port: chosen.port, ca: ctx.ca }, ctx.password, slot);
    await followPrimary({ port: other.port, ca: ctx.ca }, ctx.password, chosen.port, slot);
    replicaPorts.push(other.port);
  }
  return {
    kind: "promoted",
    oldServer: old,
    oldPort,
    newServer: chosen.server,
    newPort: chosen.port,
    lsn: chosen.lsn,
    replicaPorts,
  };
}

/**
 * The fenced primary's postmaster, if its pid file names a live one (hung, or cut off rather
 * than dead), is killed: stopping it politely would wait on the very thing that is broken.
 */
async function killPostmaster(dataDir: string, ctx: ServerContext): Promise<void> {
  if (!(await isRunning(dataDir, ctx))) return;
  const pid = Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Gone meanwhile.
  }
}
