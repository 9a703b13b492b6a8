// A private PgBouncer for the benchmark's baseline: its own ini in a temp dir, a free port,
// transaction pooling, in the foreground as a child of the bench (no daemon, no pid file).

import { execFile, spawn } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, waitFor } from "@dbplane/testkit";
import pg from "pg";

const run = promisify(execFile);
const REPO = new URL("../../", import.meta.url).pathname;

export interface Pgbouncer {
  /** URL of `database` through PgBouncer in transaction mode (user postgres, trust). */
  readonly url: string;
  /**
   * The same database through a session-mode pool: PgBouncer before 1.21 cannot keep named
   * prepared statements (pgbench -M prepared) across the server connections of transaction mode.
   */
  readonly sessionUrl: string;
  readonly version: string;
  /** PgBouncer's process (one process, whose CPU time the bench reads). */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * Installs Debian's pgbouncer when missing, the way scripts/test installs the other tools
 * (scripts/lib/services.sh `ensure_pgbouncer`: apt-get as root, else says what to install).
 */
export async function ensurePgbouncer(): Promise<void> {
  await run(
    "bash",
    [
      "-c",
      'DBPLANE_ROOT="$1"; . "$1/scripts/lib/toolchain.sh"; . "$1/scripts/lib/services.sh"; ensure_pgbouncer',
      "-",
      REPO,
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
}

/** Starts PgBouncer in transaction mode with `poolSize` server connections per database/user. */
export async function startPgbouncer(o: {
  serverHost: string;
  serverPort: number;
  database: string;
  poolSize: number;
}): Promise<Pgbouncer> {
  const dir = await mkdtemp(join(tmpdir(), "bench-pgbouncer-"));
  // PgBouncer refuses to run as root; as root it is told to drop to `postgres`, which must then
  // read the ini and the auth file.
  await chmod(dir, 0o755);
  const port = await freePort();
  const ini = join(dir, "pgbouncer.ini");
  const userlist = join(dir, "userlist.txt");
  await writeFile(userlist, '"postgres" ""\n', { mode: 0o644 });
  await writeFile(
    ini,
    [
      "[databases]",
      `${o.database} = host=${o.serverHost} port=${o.serverPort} dbname=${o.database}`,
      `${o.database}_session = host=${o.serverHost} port=${o.serverPort} dbname=${o.database} pool_mode=session`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = trust",
      `auth_file = ${userlist}`,
      "pool_mode = transaction",
      `default_pool_size = ${o.poolSize}`,
      "max_client_conn = 1000",
      "ignore_startup_parameters = extra_float_digits",
      "",
    ].join("\n"),
    { mode: 0o644 },
  );
  const bin = "/usr/sbin/pgbouncer";
  const { stdout: versionText } = await run(bin, ["--version"]);
  const args = process.getuid?.() === 0 ? ["-u", "postgres", ini] : [ini];
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  // A bench that crashes must not leave a pgbouncer behind.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const url = `postgres://postgres@127.0.0.1:${port}/${o.database}`;
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`pgbouncer exited ${child.exitCode}:\n${output}`);
        const client = new pg.Client({ connectionString: url });
        try {
          await client.connect();
          await client.query("SELECT 1");
          return true;
        } catch {
          return false;
        } finally {
          await client.end().catch(() => {});
        }
      },
      { what: "pgbouncer to accept connections", timeoutMs: 15_000 },
    );
  } catch (err) {
    child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    sessionUrl: `${url}_session`,
    version: versionText.split("\n")[0] ?? "pgbouncer",
    pid: child.pid,
    async stop() {
      process.off("exit", killOnExit);
      child.kill("SIGTERM");
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
