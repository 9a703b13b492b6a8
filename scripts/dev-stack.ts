// Runs every dbplane service that exists as a child process with prefixed logs, then each
// service's demo, and stops everything on Ctrl-C. Started by scripts/dev, which has already
// made sure Node 24, the dependencies, NATS, PostgreSQL and Redis are there.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { signToken } from "@dbplane/service-kit";
import { runChaos } from "./lib/chaos.ts";
import { type DevOptions, parseDevOptions, REPLICA_PORT_STEP, USAGE, UsageError } from "./lib/dev-options.ts";
import { ENTRY_PORT_OFFSET, startEntryProxy } from "./lib/entry-proxy.ts";
import { DEFAULT_BACKOFF, pipeWithPrefix, type ReplicaSpec, Supervisor } from "./lib/supervisor.ts";

interface LocalService {
  readonly name: string;
  readonly dir: string;
  readonly port: number;
  readonly demo?: string;
}

const root = resolve(import.meta.dirname, "..");
const colors = [36, 35, 33, 32, 34, 31] as const;

function discoverServices(): LocalService[] {
  const dir = join(root, "services");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => join(dir, name))
    .filter((path) => existsSync(join(path, "package.json")) && existsSync(join(path, "src/main.ts")))
    .map((path) => {
      const pkg = JSON.parse(readFileSync(join(path, "package.json"), "utf8")) as {
        name: string;
        dbplane?: { port?: number; demo?: string };
      };
      if (!pkg.dbplane?.port) throw new Error(`${path}/package.json lacks dbplane.port (its local port)`);
      return {
        name: pkg.name.replace(/^@dbplane\//, ""),
        dir: path,
        port: pkg.dbplane.port,
        ...(pkg.dbplane.demo ? { demo: join(path, pkg.dbplane.demo) } : {}),
      };
    })
    .sort((a, b) => a.port - b.port);
}

/** A secret that survives restarts of the stack, so printed tokens stay valid. */
function jwtSecret(): string {
  if (process.env.DBPLANE_JWT_SECRET) return process.env.DBPLANE_JWT_SECRET;
  const file = join(root, ".data/dev-jwt-secret");
  if (!existsSync(file)) {
    mkdirSync(join(root, ".data"), { recursive: true });
    writeFileSync(file, randomBytes(32).toString("base64url"), { mode: 0o600 });
  }
  return readFileSync(file, "utf8").trim();
}

/**
 * A self-signed certificate for the router's PostgreSQL endpoint (`sslmode=require` works; a
 * client that verifies the CA must be given `.data/dev-tls/tls.crt`), made once with openssl.
 * Without openssl the endpoint answers SSLRequest with `N`, as PostgreSQL without ssl does.
 */
function devTlsEnv(): Record<string, string> {
  if (process.env.DBPLANE_ROUTER_TLS_CERT || process.env.DBPLANE_ROUTER_TLS_KEY) return {};
  const dir = join(root, ".data/dev-tls");
  const cert = join(dir, "tls.crt");
  const key = join(dir, "tls.key");
  if (!existsSync(cert) || !existsSync(key)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      // openssl writes the key 0600 itself; -days 825: the longest a TLS client still accepts.
      execFileSync(
        "openssl",
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
          .concat(["-keyout", key, "-out", cert, "-days", "825", "-subj", "/CN=localhost"])
          .concat(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]),
        { stdio: "ignore" },
      );
    } catch {
      process.stdout.write("[dbplane] openssl not found: the router's PostgreSQL port runs without TLS\n");
      return {};
    }
  }
  return { DBPLANE_ROUTER_TLS_CERT: cert, DBPLANE_ROUTER_TLS_KEY: key };
}

/**
 * The local driver's shard CA (the provisioner makes it under the data directory when it starts,
 * if openssl exists): the router and collector verify shard servers against it (verify-full).
 */
function shardTlsEnv(dataDir: string): Record<string, string> {
  if (process.env.DBPLANE_SHARD_TLS_CA !== undefined) return {};
  if ((process.env.DBPLANE_PROVISIONER_DRIVER ?? "local") !== "local") return {};
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
  } catch {
    return {};
  }
  return { DBPLANE_SHARD_TLS_CA: join(dataDir, "tls", "ca.crt") };
}

function options(services: readonly LocalService[]): DevOptions {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  try {
    return parseDevOptions(
      argv,
      services.map((s) => s.name),
    );
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`[dbplane] ${err.message}\n${USAGE}\n`);
    process.exit(64);
  }
}

/** Every replica of every service: #n on the service's port + 10·(n−1), the router's PostgreSQL endpoint too. */
function replicaSpecs(
  services: readonly LocalService[],
  opts: DevOptions,
  baseEnv: NodeJS.ProcessEnv,
): ReplicaSpec[] {
  return services.flatMap((service, i) => {
    const count = opts.replicas.get(service.name) ?? opts.defaultReplicas;
    return Array.from({ length: count }, (_, n) => {
      const offset = REPLICA_PORT_STEP * n;
      const env: NodeJS.ProcessEnv = { ...baseEnv, DBPLANE_HTTP_PORT: String(service.port + offset) };
      if (service.name === "router")
        env.DBPLANE_ROUTER_PG_PORT = String(Number(baseEnv.DBPLANE_ROUTER_PG_PORT) + offset);
      return {
        service: service.name,
        index: n + 1,
        label: count > 1 ? `${service.name}#${n + 1}` : service.name,
        port: service.port + offset,
        cwd: service.dir,
        env,
        color: colors[i % colors.length]!,
      };
    });
  });
}

async function main(): Promise<void> {
  const services = discoverServices();
  const opts = options(services);
  const secret = jwtSecret();
  const demos: ChildProcess[] = [];
  let supervisor: Supervisor | undefined;
  const runningDemos = () => demos.filter((c) => c.exitCode === null && c.signalCode === null);
  let stopping = false;
  const write = (line: string) => process.stdout.write(line);

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\n[dbplane] stopping every service (SIGTERM)…\n");
    const demoExits = runningDemos().map((c) => new Promise((r) => c.once("exit", r)));
    for (const demo of runningDemos()) demo.kill("SIGTERM");
    const forced = setTimeout(() => {
      for (const c of [...runningDemos(), ...(supervisor?.running() ?? [])]) c.kill("SIGKILL");
    }, 60_000);
    await Promise.all([...demoExits, supervisor?.stop()]);
    clearTimeout(forced);
    process.exit(code);
  };
  // The children run in process groups of their own (`detached`), so Ctrl-C in the terminal
  // reaches only this process and each service gets one SIGTERM, as from a kubelet. A second
  // signal is passed on as a second SIGTERM: a service's "exit 1 now", what a second Ctrl-C asks for.
  const onSignal = () => {
    if (!stopping) return void stopAll(0);
    process.stdout.write("[dbplane] second signal: every service still running exits now\n");
    for (const child of [...runningDemos(), ...(supervisor?.running() ?? [])]) child.kill("SIGTERM");
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, onSignal);
  // Out of the terminal's process group, a child would outlive the stack if it ended another way.
  process.on("exit", () => {
    for (const child of [...runningDemos(), ...(supervisor?.running() ?? [])]) child.kill("SIGTERM");
  });

  const baseEnv = {
    ...process.env,
    DBPLANE_JWT_SECRET: secret,
    // Only here: GETs need no token on a developer's machine (in a cluster they need `read`).
    DBPLANE_ANONYMOUS_READ: process.env.DBPLANE_ANONYMOUS_READ ?? "true",
    DBPLANE_HTTP_HOST: process.env.DBPLANE_HTTP_HOST ?? "127.0.0.1",
    DBPLANE_SHUTDOWN_DELAY_MS: process.env.DBPLANE_SHUTDOWN_DELAY_MS ?? "0",
    DBPLANE_DATA_DIR: process.env.DBPLANE_DATA_DIR ?? join(root, ".data"),
    // Where the router's PostgreSQL endpoint listens here: the provisioner writes it into each
    // database's app credentials (`uri`, `jdbc-uri`).
    DBPLANE_PROVISIONER_ROUTER_PG_HOST: process.env.DBPLANE_PROVISIONER_ROUTER_PG_HOST ?? "127.0.0.1",
    DBPLANE_PROVISIONER_ROUTER_PG_PORT: process.env.DBPLANE_PROVISIONER_ROUTER_PG_PORT ?? "7432",
    DBPLANE_ROUTER_PG_PORT: process.env.DBPLANE_ROUTER_PG_PORT ?? "7432",
    // A shard hot for 5 s (not 60) is reported, so the router demo's split happens while you
    // watch; 1.5× the median because the demo database has two shards (their median is their mean).
    DBPLANE_ROUTER_HOT_SUSTAIN_MS: process.env.DBPLANE_ROUTER_HOT_SUSTAIN_MS ?? "5000",
    DBPLANE_ROUTER_HOT_CHECK_MS: process.env.DBPLANE_ROUTER_HOT_CHECK_MS ?? "1000",
    DBPLANE_ROUTER_HOT_MULTIPLE: process.env.DBPLANE_ROUTER_HOT_MULTIPLE ?? "1.5",
    DBPLANE_ROUTER_HOT_COOLDOWN_MS: process.env.DBPLANE_ROUTER_HOT_COOLDOWN_MS ?? "30000",
    ...devTlsEnv(),
  };
  Object.assign(baseEnv, shardTlsEnv(baseEnv.DBPLANE_DATA_DIR));
  if (services.length === 0) process.stdout.write("[dbplane] no service under services/ yet\n");
  supervisor = new Supervisor(replicaSpecs(services, opts, baseEnv), {
    backoff: DEFAULT_BACKOFF,
    maxStartFailures: opts.maxStartFailures,
    readyTimeoutMs: 60_000,
    write,
    onGiveUp: (message) => {
      process.stdout.write(`[dbplane] ${message}\n`);
      void stopAll(1);
    },
  });
  await supervisor.start();
  if (stopping) return;
  const entries: Array<{ service: LocalService; port: number; labels: string[] }> = [];
  for (const service of services) {
    const group = supervisor.replicas.filter((r) => r.spec.service === service.name);
    if (group.length < 2) continue;
    const port = service.port + ENTRY_PORT_OFFSET;
    try {
      await startEntryProxy(port, group);
    } catch (err) {
      process.stdout.write(
        `[dbplane] ${service.name}'s entry point cannot listen on 127.0.0.1:${port} (${err instanceof Error ? err.message : err})\n`,
      );
      return void stopAll(1);
    }
    entries.push({ service, port, labels: group.map((r) => r.spec.label) });
  }

  const token = await signToken(secret, { sub: "dev", scopes: ["admin"], expiresIn: "12h" });
  const multi = supervisor.replicas.some((r) => r.spec.index > 1);
  process.stdout.write(
    [
      "",
      "[dbplane] ready:",
      ...supervisor.replicas.map(
        (r) =>
          `  ${r.spec.label.padEnd(24)} ${r.url}${r.spec.service === "router" ? `  (PostgreSQL ${r.spec.env.DBPLANE_ROUTER_PG_PORT})` : ""}  pid ${r.pid}`,
      ),
      ...(entries.length > 0 ? ["  entry points (each request to the next ready replica):"] : []),
      ...entries.map(
        (e) => `  ${e.service.name.padEnd(24)} http://127.0.0.1:${e.port}  over ${e.labels.join(", ")}`,
      ),
      "  (docs: /docs, metrics: /metrics on every port)",
      `  web console: http://127.0.0.1:${services.find((s) => s.name === "projection-coordinator")?.port}/console/  (paste the token below)`,
      ...(multi
        ? [
            "  Replicas restart on their own when they exit (backoff 0.5 s doubling to 15 s); every",
            "  replica answers the whole service's API, the first keeps the usual port.",
          ]
        : []),
      "",
      `  export DBPLANE_TOKEN=${token}`,
      '  curl -H "authorization: Bearer $DBPLANE_TOKEN" …   (scope admin, valid 12 h; tokens are signed',
      "  with DBPLANE_JWT_SECRET, without one a secret is generated once into .data/dev-jwt-secret;",
      "  narrower ones: ./scripts/dbplane-token --scope db:<name>:query --ttl 1h)",
      "",
    ].join("\n"),
  );

  const { demos: chosen } = opts;
  if (chosen !== false) {
    services.forEach((service, i) => {
      if (!service.demo) return;
      if (chosen !== true && !chosen.has(service.name)) return;
      const demo = spawn(process.execPath, [service.demo], {
        cwd: service.dir,
        env: { ...baseEnv, DBPLANE_TOKEN: token, DBPLANE_URL: `http://127.0.0.1:${service.port}` },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      pipeWithPrefix(demo, `${service.name} demo`, colors[i % colors.length]!);
      demos.push(demo);
    });
  }
  if (services.length === 0) await stopAll(0);
  if (opts.chaos) await runChaos(supervisor, opts.chaos, write);
}

main().catch((err: unknown) => {
  process.stderr.write(`[dbplane] ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
