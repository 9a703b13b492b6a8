import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NodeConnectionOptions } from "@nats-io/transport-node";
import { freePort } from "./free-port.ts";
import { waitFor } from "./wait-for.ts";

export interface PrivateNatsServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGTERM, or SIGKILL if `hard`), keeping its JetStream store. */
  stop(options?: { hard?: boolean }): Promise<void>;
  /** Starts it again on the same port with the same store. */
  start(): Promise<void>;
  /** Stops it and deletes the store. */
  dispose(): Promise<void>;
}

const NATS_SERVER = process.env.DBPLANE_NATS_SERVER_BIN ?? "nats-server";

/** Options of `startPrivateNatsServer`. */
export interface PrivateNatsServerOptions {
  /**
   * nats-server config appended to the server's own (listen address, JetStream store), e.g.
   * the `accounts` block of a chart's auth.conf.
   */
  readonly config?: string;
  /**
   * Connection options of the start-up probe when `config` requires credentials or TLS (e.g.
   * `{ user, pass }`, or `servers: "tls://localhost:<port>"` with `tls: { caFile }`).
   */
  readonly probe?: (port: number) => NodeConnectionOptions;
}

/**
 * A nats-server with JetStream of the test's own, on a free port, so that a test may stop and
 * restart it without touching the shared server other tests use.
 */
export async function startPrivateNatsServer(
  options: PrivateNatsServerOptions = {},
): Promise<PrivateNatsServer> {
  const port = await freePort();
  const storeDir = await mkdtemp(join(tmpdir(), "dbplane-nats-"));
  const url = `nats://127.0.0.1:${port}`;
  let args = ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir];
  if (options.config !== undefined) {
    const configFile = join(storeDir, "nats.conf");
    const store = JSON.stringify(join(storeDir, "jetstream"));
    await writeFile(
      configFile,
      `listen: "127.0.0.1:${port}"\njetstream { store_dir: ${store} }\n${options.config}\n`,
    );
    args = ["-c", configFile];
  }
  let child: ChildProcess | undefined;
  let output = "";

  const start = async () => {
    output = "";
    const proc = spawn(NATS_SERVER, args, {
      stdio: ["ignore", "pipe", "pipe"],
    });
    proc.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    proc.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child = proc;
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`nats-server exited ${proc.exitCode}: ${output}`);
        const nc = await connect({ servers: url, reconnect: false, ...options.probe?.(port) });
        await nc.close();
        return true;
      },
      { what: `private nats-server on ${url}`, timeoutMs: 15_000 },
    );
  };

  const stop = async (options: { hard?: boolean } = {}) => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill(options.hard ? "SIGKILL" : "SIGTERM");
    await exited;
  };

  await start();
  return {
    url,
    port,
    stop,
    start,
    async dispose() {
      await stop({ hard: true });
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}
