// Keeps the local stack's replicas running: each one a child process in a process group of its
// own, restarted with exponential backoff when it exits unexpectedly while the others run on; a
// replica that fails to start (exits, or is not ready in time) `maxStartFailures` times in a row
// stops the stack. Its own code (a few lines of backoff) rather than a library: it has to reset
// the backoff once a replica stayed up, and count failed starts, which retry helpers do not do.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

export interface ReplicaSpec {
  readonly service: string;
  /** 1-based. */
  readonly index: number;
  /** `scheduler#2` (or just `scheduler` when the service runs one replica). */
  readonly label: string;
  readonly port: number;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly color: number;
}

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Up this long, a replica's next restart waits `initialMs` again. */
  readonly resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 15_000, resetAfterMs: 30_000 };

export interface SupervisorOptions {
  readonly backoff: BackoffOptions;
  readonly maxStartFailures: number;
  readonly readyTimeoutMs: number;
  readonly write: (line: string) => void;
  /** Called once when a replica failed to start too often: the stack must stop. */
  readonly onGiveUp: (message: string) => void;
}

type State = "starting" | "ready" | "waiting" | "stopped";

/** One supervised replica: its current process, if any, and its restart history. */
export class Replica {
  child: ChildProcess | undefined;
  state: State = "starting";
  restarts = 0;
  failedStarts = 0;
  nextDelayMs: number;
  readySince = 0;
  timer: NodeJS.Timeout | undefined;
  /** Resolved when the current process is ready. */
  private readyWaiters: Array<() => void> = [];

  readonly spec: ReplicaSpec;

  constructor(spec: ReplicaSpec, backoff: BackoffOptions) {
    this.spec = spec;
    this.nextDelayMs = backoff.initialMs;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get url(): string {
    return `http://127.0.0.1:${this.spec.port}`;
  }

  /** Until the replica is ready (again); immediately when it is. */
  ready(): Promise<void> {
    if (this.state === "ready") return Promise.resolve();
    return new Promise((r) => this.readyWaiters.push(r));
  }

  markReady(): void {
    this.state = "ready";
    this.readySince = Date.now();
    for (const w of this.readyWaiters.splice(0)) w();
  }
}

export function formatLine(line: string): string {
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

export function pipeWithPrefix(child: ChildProcess, label: string, color: number): void {
  const prefix = `\x1b[${color}m${label.padEnd(24)}\x1b[0m│ `;
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (line) =>
      process.stdout.write(`${prefix}${formatLine(line)}\n`),
    );
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? signal : `exit code ${code}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export class Supervisor {
  readonly replicas: Replica[];
  private stopping = false;

  private readonly options: SupervisorOptions;

  constructor(specs: readonly ReplicaSpec[], options: SupervisorOptions) {
    this.options = options;
    this.replicas = specs.map((s) => new Replica(s, options.backoff));
  }

  /** Starts every replica; resolves when each one was ready once. */
  async start(): Promise<void> {
    for (const r of this.replicas) this.launch(r);
    await Promise.all(this.replicas.map((r) => r.ready()));
  }

  /** Running processes of the replicas (for signals). */
  running(): ChildProcess[] {
    return this.replicas
      .map((r) => r.child)
      .filter((c): c is ChildProcess => !!c && c.exitCode === null && c.signalCode === null);
  }

  /** No more restarts; SIGTERM to every replica; resolves when all exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const r of this.replicas) {
      clearTimeout(r.timer);
      if (r.state === "waiting") r.state = "stopped";
    }
    const children = this.running();
    const exits = children.map((c) => new Promise((r) => c.once("exit", r)));
    for (const c of children) c.kill("SIGTERM");
    await Promise.all(exits);
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  private launch(replica: Replica): void {
    const { spec } = replica;
    const child = spawn(process.execPath, ["src/main.ts"], {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ["ignore", "pipe", "pipe"],
      // A process group of its own: Ctrl-C reaches only the stack, which sends one SIGTERM each.
      detached: true,
    });
    replica.child = child;
    replica.state = "starting";
    pipeWithPrefix(child, spec.label, spec.color);
    const startedAt = Date.now();
    let exited = false;
    child.once("exit", (code, signal) => {
      exited = true;
      this.exited(replica, child, code, signal);
    });
    void (async () => {
      const url = `${replica.url}/health/ready`;
      while (!exited && !this.stopping) {
        try {
          if ((await fetch(url)).status === 200 && !exited) {
            this.ready(replica);
            return;
          }
        } catch {
          // not listening yet
        }
        if (Date.now() - startedAt > this.options.readyTimeoutMs) {
          this.options.write(
            `[dbplane] ${spec.label} not ready after ${seconds(this.options.readyTimeoutMs)} (${url}): killing it (SIGKILL)\n`,
          );
          child.kill("SIGKILL");
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
  }

  private ready(replica: Replica): void {
    const first = replica.restarts === 0;
    replica.failedStarts = 0;
    replica.markReady();
    if (!first) {
      this.options.write(
        `[dbplane] ${replica.spec.label} restarted: pid ${replica.pid} ready on ${replica.url} (restart ${replica.restarts})\n`,
      );
    }
  }

  private exited(
    replica: Replica,
    child: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    const { label } = replica.spec;
    if (this.stopping) {
      replica.state = "stopped";
      // The line ./scripts/dev always printed for a stopped service.
      this.options.write(`[dbplane] ${label} exited (${code ?? signal})\n`);
      return;
    }
    const wasReady = replica.state === "ready";
    const { backoff } = this.options;
    if (wasReady && Date.now() - replica.readySince >= backoff.resetAfterMs) {
      replica.nextDelayMs = backoff.initialMs;
    }
    if (!wasReady) replica.failedStarts++;
    if (replica.failedStarts >= this.options.maxStartFailures) {
      replica.state = "stopped";
      this.options.write(`[dbplane] ${label} exited (${describeExit(code, signal)}) while starting\n`);
      this.options.onGiveUp(
        `${label} failed to start ${replica.failedStarts} times in a row (last: ${describeExit(code, signal)}); stopping the stack — its log lines above say why`,
      );
      return;
    }
    const delay = replica.nextDelayMs;
    replica.nextDelayMs = Math.min(backoff.maxMs, delay * 2);
    replica.restarts++;
    replica.state = "waiting";
    this.options.write(
      `[dbplane] ${label} (pid ${child.pid}) exited unexpectedly (${describeExit(code, signal)})${wasReady ? "" : ` before it was ready, ${replica.failedStarts} failed start(s) in a row`}; restart ${replica.restarts} in ${seconds(delay)}\n`,
    );
    replica.timer = setTimeout(() => {
      if (!this.stopping) this.launch(replica);
    }, delay);
  }
}
