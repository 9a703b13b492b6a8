import { appendFile, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { exists, SUPERUSER, writeOwned } from "./cluster-files.ts";
import { clearZombieLock } from "./dead-postmaster.ts";
import { isRunning, type ServerContext, withConnection } from "./local-server.ts";
import { ensureSlot, slotNameOf } from "./replication-slots.ts";
import { ProgramFailedError, runProgram } from "./run-program.ts";
import { fenceMarker } from "./shard-leader.ts";

/** How a fenced former primary came back: rewound in place, or copied anew (pg_basebackup). */
export type Rejoined = { readonly how: "rewound" } | { readonly how: "recopy"; readonly reason: string };

const CONF_FILE = "dbplane.conf";

/**
 * Turns a fenced former primary into a replica of the shard's current primary, without it ever
 * accepting a write: it is stopped (immediate: nothing of it is worth flushing), `pg_rewind`
 * (which first runs crash recovery in single-user mode when it was killed, PostgreSQL 13+) takes
 * it back to the point where the timelines split and copies what changed since from the new
 * primary; `-R` writes `standby.signal` and `primary_conninfo`, and its own slot on the new
 * primary is named. Its settings file (its own port) is kept: pg_rewind copies the source's.
 * Only then is the fence lifted, so a crash half-way leaves it fenced and the next pass redoes it.
 *
 * When pg_rewind cannot (a server made before `wal_log_hints`, WAL the new primary no longer has),
 * the data directory is removed with the fence: the caller copies it anew like any replica.
 */
export async function rejoinFenced(
  shardDir: string,
  server: string,
  primaryPort: number,
  ctx: ServerContext,
): Promise<Rejoined> {
  const dataDir = join(shardDir, server);
  if (!(await exists(dataDir))) {
    await rm(fenceMarker(shardDir, server), { force: true });
    return { how: "recopy", reason: `${dataDir} is gone` };
  }
  if (await isRunning(dataDir, ctx)) {
    await runProgram(ctx.bins.path("pg_ctl"), ["stop", "-D", dataDir, "-m", "immediate", "-w", "-s"], {
      user: ctx.user,
      timeoutMs: 60_000,
    });
  }
  // pg_rewind's crash recovery would refuse a lock file naming an unreaped (zombie) postmaster.
  await clearZombieLock(dataDir);
  const slot = slotNameOf(server);
  const primary = { port: primaryPort, ca: ctx.ca };
  await ensureSlot(primary, ctx.password, slot);
  // A just-promoted primary's control file still names the old timeline until its first
  // checkpoint, and pg_rewind would find "no rewind required" and leave the old WAL in place.
  await withConnection(primary, ctx.password, "postgres", (client) => client.query("CHECKPOINT"));
  const settings = await readFile(join(dataDir, CONF_FILE), "utf8");
  let outcome: Rejoined = { how: "rewound" };
  try {
    await runProgram(
      join(ctx.bins.dir, "pg_rewind"),
      [
        "-D",
        dataDir,
        `--source-server=host=127.0.0.1 port=${primaryPort} user=${SUPERUSER} dbname=postgres`,
        "-R",
      ],
      { user: ctx.user, password: ctx.password, tlsCa: ctx.ca?.certPath, timeoutMs: 3_600_000 },
    );
    await writeOwned(join(dataDir, CONF_FILE), settings, ctx.user);
    await writeOwned(join(dataDir, "standby.signal"), "", ctx.user);
    // After -R's primary_conninfo: the last line of postgresql.auto.conf wins.
    await appendFile(join(dataDir, "postgresql.auto.conf"), `primary_slot_name = '${slot}'\n`);
  } catch (err) {
    if (!(err instanceof ProgramFailedError)) throw err;
    outcome = { how: "recopy", reason: err.message };
    await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
  }
  await rm(fenceMarker(shardDir, server), { force: true });
  return outcome;
}
