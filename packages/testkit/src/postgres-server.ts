import { readFileSync } from "node:fs";
import { chmod, chown, copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";
import { pgRun } from "./pg-binaries.ts";

/** Options of {@link createPostgresServer}. */
export interface PostgresServerOptions {
  /** `logical` (default) allows publications and logical slots; `replica` is the shared server's level. */
  readonly walLevel?: "logical" | "replica";
  /** Serve TLS with this certificate and key (copied, owned by the server's user). */
  readonly tls?: { readonly certPath: string; readonly keyPath: string };
}

/** A private PostgreSQL server on 127.0.0.1 (user `postgres`, trust auth, database `postgres`). */
export interface PostgresServer {
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * initdb and start a throwaway server: logical replication between two of these is what the
 * shared server (wal_level=replica, shared with others) cannot give a test. Sized small —
 * the machine is shared — and with fsync off, since its data dies with the test.
 */
export async function createPostgresServer(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const dir = await mkdtemp(join(tmpdir(), "dbplane-pg-server-"));
  await chmod(dir, 0o777);
  const data = join(dir, "data");
  const port = await freePort();
  const settings = {
    listen_addresses: "127.0.0.1",
    unix_socket_directories: dir,
    port: String(port),
    wal_level: options.walLevel ?? "logical",
    max_replication_slots: "10",
    max_wal_senders: "10",
    max_worker_processes: "16",
    max_logical_replication_workers: "8",
    // The launcher starts workers at most once per interval (default 5 s): tests that subscribe
    // one after another would wait that long for each.
    wal_retrieve_retry_interval: "200ms",
    max_connections: "40",
    shared_buffers: "16MB",
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    ...(options.tls && {
      ssl: "on",
      ssl_cert_file: join(dir, "server.crt"),
      ssl_key_file: join(dir, "server.key"),
    }),
  };
  const serverArgs = Object.entries(settings)
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(" ");
  try {
    if (options.tls) await copyTls(options.tls, dir);
    await pgRun("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-N"]);
    await pgRun("pg_ctl", ["-D", data, "-w", "-l", join(dir, "server.log"), "-o", serverArgs, "start"]);
  } catch (err) {
    await pgRun("pg_ctl", ["-D", data, "-m", "immediate", "stop"]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await pgRun("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** PostgreSQL refuses a key file that others can read or that another user owns. */
async function copyTls(tls: { certPath: string; keyPath: string }, dir: string): Promise<void> {
  await copyFile(tls.certPath, join(dir, "server.crt"));
  await copyFile(tls.keyPath, join(dir, "server.key"));
  await chmod(join(dir, "server.key"), 0o600);
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = postgresUser();
  for (const file of ["server.crt", "server.key"]) await chown(join(dir, file), uid, gid);
}

function postgresUser(): { uid: number; gid: number } {
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (name === "postgres") return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error("no OS user postgres (pgRun runs the server as it when root)");
}
