import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";
import { pgRun } from "./pg-binaries.ts";

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
