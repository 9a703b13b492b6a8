// Runs every dbplane service that exists as a child process with prefixed logs, then each
// service's demo, and stops everything on Ctrl-C. Started by scripts/dev, which has already
// made sure Node 24, the dependencies, NATS, PostgreSQL and Redis are there.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { signToken } from "@dbplane/service-kit";

interface LocalService {
  readonly name: string;
  readonly dir: string;
  readonly port: number;
  readonly demo?: string;
}

const root = resolve(import.meta.dirname, "..");
const withDemo = !process.argv.includes("--no-demo");
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

function formatLine(line: string): string {
  if (!line.startsWith("{")) return line;
  try {
    const { level, time, msg, pid: _pid, hostname: _host, name: _name, ...rest } = JSON.parse(line);
    const levelName = (
      { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" } as const
    )[level as 10];
    const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : "";
    return `${new Date(time).toISOString().slice(11, 23)} ${levelName ?? level} ${msg ?? ""}${extra}`;
  } catch {
    return line;
  }
}

function pipeWithPrefix(child: ChildProcess, label: string, color: number): void {
  const prefix = `\x1b[${color}m${label.padEnd(24)}\x1b[0m│ `;
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (line) =>
      process.stdout.write(`${prefix}${formatLine(line)}\n`),
    );
  }
}

async function waitReady(service: LocalService, child: ChildProcess): Promise<void> {
  const url = `http://127.0.0.1:${service.port}/health/ready`;
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`${service.name} exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${service.name} not ready after 60 s (${url})`);
}

async function main(): Promise<void> {
  const services = discoverServices();
  const secret = jwtSecret();
  const children: ChildProcess[] = [];
  const running = () => children.filter((c) => c.exitCode === null && c.signalCode === null);
  let stopping = false;

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\n[dbplane] stopping every service (SIGTERM)…\n");
    const exits = running().map((c) => new Promise((r) => c.once("exit", r)));
    for (const child of children) child.kill("SIGTERM");
    const forced = setTimeout(() => {
      for (const c of children) c.kill("SIGKILL");
    }, 60_000);
    await Promise.all(exits);
    clearTimeout(forced);
    process.exit(code);
  };
  // The children run in process groups of their own (`detached` below), so Ctrl-C in the terminal
  // reaches only this process and each service gets one SIGTERM, as from a kubelet. A second
  // signal is passed on as a second SIGTERM: a service's "exit 1 now", what a second Ctrl-C asks for.
  const onSignal = () => {
    if (!stopping) return void stopAll(0);
    process.stdout.write("[dbplane] second signal: every service still running exits now\n");
    for (const child of running()) child.kill("SIGTERM");
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, onSignal);
  // Out of the terminal's process group, a child would outlive the stack if it ended another way.
  process.on("exit", () => {
    for (const child of running()) child.kill("SIGTERM");
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
  services.forEach((service, i) => {
    const child = spawn(process.execPath, ["src/main.ts"], {
      cwd: service.dir,
      env: { ...baseEnv, DBPLANE_HTTP_PORT: String(service.port) },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    pipeWithPrefix(child, service.name, colors[i % colors.length]!);
    child.once("exit", (code, signal) => {
      process.stdout.write(`[dbplane] ${service.name} exited (${code ?? signal})\n`);
      if (!stopping) void stopAll(1);
    });
    children.push(child);
  });
  await Promise.all(services.map((s, i) => waitReady(s, children[i]!)));

  const token = await signToken(secret, { sub: "dev", scopes: ["admin"], expiresIn: "12h" });
  process.stdout.write(
    [
      "",
      "[dbplane] ready:",
      ...services.map(
        (s) => `  ${s.name.padEnd(24)} http://127.0.0.1:${s.port}  (docs: /docs, metrics: /metrics)`,
      ),
      "",
      `  export DBPLANE_TOKEN=${token}`,
      '  curl -H "authorization: Bearer $DBPLANE_TOKEN" …   (scope admin, valid 12 h; tokens are signed',
      "  with DBPLANE_JWT_SECRET, without one a secret is generated once into .data/dev-jwt-secret;",
      "  narrower ones: ./scripts/dbplane-token --scope db:<name>:query --ttl 1h)",
      "",
    ].join("\n"),
  );

  if (withDemo) {
    services.forEach((service, i) => {
      if (!service.demo) return;
      const demo = spawn(process.execPath, [service.demo], {
        cwd: service.dir,
        env: { ...baseEnv, DBPLANE_TOKEN: token, DBPLANE_URL: `http://127.0.0.1:${service.port}` },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      pipeWithPrefix(demo, `${service.name} demo`, colors[i % colors.length]!);
      children.push(demo);
    });
  }
  if (services.length === 0) await stopAll(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`[dbplane] ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
