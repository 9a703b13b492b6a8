import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./free-port.ts";

const run = promisify(execFile);
/** The newest Debian-installed PostgreSQL, unless DBPLANE_TEST_PG_BIN names a bin directory. */
function pgBin(): string {
  if (process.env.DBPLANE_TEST_PG_BIN) return process.env.DBPLANE_TEST_PG_BIN;
  const versions = readdirSync("/usr/lib/postgresql", { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^\d+$/.test(e.name))
    .map((e) => Number(e.name))
    .sort((a, b) => b - a);
  if (versions.length === 0)
    throw new Error("no PostgreSQL under /usr/lib/postgresql; set DBPLANE_TEST_PG_BIN");
  return `/usr/lib/postgresql/${versions[0]}/bin`;
}

/**
 * A private PostgreSQL primary with one streaming replica (pg_stat_statements preloaded) whose
 * replay can be paused, and which can be stopped and started: replica routing and replication
 * lag tests.
 */
export interface PostgresPair {
  readonly primaryPort: number;
  readonly replicaPort: number;
  stopReplica(): Promise<void>;
  startReplica(): Promise<void>;
  stop(): Promise<void>;
}

/** Runs a PostgreSQL binary as the `postgres` user when we are root (PostgreSQL refuses root). */
async function pgRun(bin: string, args: string[]): Promise<void> {
  const asRoot = process.getuid?.() === 0;
  const [cmd, argv] = asRoot
    ? ["runuser", ["-u", "postgres", "--", join(pgBin(), bin), ...args]]
    : [join(pgBin(), bin), args];
  await run(cmd, argv, { timeout: 60_000 });
}

/**
 * initdb a primary (trust auth on 127.0.0.1, replication allowed), start it, pg_basebackup a
 * standby with `-R`, start that: a real streaming replica whose replay can be paused.
 */
export async function startPostgresPair(): Promise<PostgresPair> {
  const dir = await mkdtemp(join(tmpdir(), "dbplane-pg-pair-"));
  await chmod(dir, 0o777);
  const primary = join(dir, "primary");
  const replica = join(dir, "replica");
  const [primaryPort, replicaPort] = [await freePort(), await freePort()];
  const common = [
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    `unix_socket_directories=${dir}`,
    "-c",
    "fsync=off",
    "-c",
    "shared_preload_libraries=pg_stat_statements",
  ];
  const startReplica = () =>
    pgRun("pg_ctl", [
      "-D",
      replica,
      "-w",
      "-l",
      join(dir, "replica.log"),
      "-o",
      [...common, "-p", String(replicaPort)].join(" "),
      "start",
    ]);
  await pgRun("initdb", ["-D", primary, "-U", "postgres", "--auth=trust", "-N"]);
  await pgRun("pg_ctl", [
    "-D",
    primary,
    "-w",
    "-l",
    join(dir, "primary.log"),
    "-o",
    [...common, "-p", String(primaryPort)].join(" "),
    "start",
  ]);
  try {
    await pgRun("pg_basebackup", [
      "-h",
      "127.0.0.1",
      "-p",
      String(primaryPort),
      "-U",
      "postgres",
      "-D",
      replica,
      "-R",
      "-X",
      "stream",
    ]);
    await startReplica();
  } catch (err) {
    await pgRun("pg_ctl", ["-D", primary, "-m", "immediate", "stop"]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    primaryPort,
    replicaPort,
    stopReplica: () => pgRun("pg_ctl", ["-D", replica, "-m", "fast", "-w", "stop"]),
    startReplica,
    async stop() {
      await pgRun("pg_ctl", ["-D", replica, "-m", "immediate", "stop"]).catch(() => {});
      await pgRun("pg_ctl", ["-D", primary, "-m", "immediate", "stop"]).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
