import { type ChildProcess, spawn } from "node:child_process";
import { WaitTimeoutError, waitFor } from "./wait-for.ts";

export interface ChildServiceOptions {
  /** Entry file, run with the same Node (TypeScript runs by type stripping). */
  readonly entry: string;
  readonly args?: readonly string[];
  /** Added to (not replacing) this process's environment. */
  readonly env?: Record<string, string | undefined>;
  /** URL polled until it answers 200; omit to return as soon as the process spawned. */
  readonly readyUrl?: string;
  readonly readyTimeoutMs?: number;
  /** Prefix for echoed output; output is echoed only when DBPLANE_TEST_ECHO=1. */
  readonly name?: string;
}

export interface ChildService {
  readonly process: ChildProcess;
  /** Everything the process printed so far (stdout and stderr interleaved). */
  output(): string;
  /** Lines of output that parse as JSON (pino logs). */
  logs(): Record<string, unknown>[];
  /** Resolves with the exit code (or the signal name) when the process ends. */
  readonly exited: Promise<number | NodeJS.Signals>;
  kill(signal?: NodeJS.Signals): void;
  /** SIGKILL if still running; always safe to call in afterEach. */
  dispose(): Promise<void>;
}

/** Starts a service (or any Node script) as a child process and waits until it is ready. */
export async function startChildService(options: ChildServiceOptions): Promise<ChildService> {
  const proc = spawn(process.execPath, [options.entry, ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const echo = process.env.DBPLANE_TEST_ECHO === "1";
  const prefix = `[${options.name ?? options.entry}] `;
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    output += text;
    if (echo) process.stderr.write(text.replace(/^/gm, prefix));
    // A service's fatal log (pino level 60: an uncaught error, it is shutting down) is always
    // shown: a test then fails with 503s or refused connections that say nothing of the cause,
    // and the output is gone with the process. (A chunk may split a line: what is shown is
    // still the fatal part.)
    else if (text.includes('"level":60')) {
      for (const line of text.split("\n"))
        if (line.includes('"level":60')) process.stderr.write(`${prefix}${line}\n`);
    }
  };
  proc.stdout?.on("data", onData);
  proc.stderr?.on("data", onData);
  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    proc.once("exit", (code, signal) => resolve(code ?? signal ?? -1));
  });

  const service: ChildService = {
    process: proc,
    output: () => output,
    logs: () =>
      output
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    exited,
    kill: (signal = "SIGTERM") => {
      proc.kill(signal);
    },
    async dispose() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGKILL");
        await exited;
      }
    },
  };

  if (options.readyUrl) {
    const readyUrl = options.readyUrl;
    try {
      // An exit ends the wait at once: thrown from the probe, waitFor would retry it to the deadline.
      const gone = () => proc.exitCode !== null || proc.signalCode !== null;
      await waitFor(async () => gone() || (await fetch(readyUrl).catch(() => undefined))?.status === 200, {
        what: `${readyUrl} to answer 200`,
        timeoutMs: options.readyTimeoutMs ?? 30_000,
        intervalMs: 100,
      });
      if (gone()) {
        throw new Error(
          `process exited with ${proc.exitCode ?? proc.signalCode} before it was ready:\n${output}`,
        );
      }
    } catch (err) {
      // What the readiness answers and what the process said are what explain a timeout.
      const last =
        err instanceof WaitTimeoutError
          ? await fetch(readyUrl, { signal: AbortSignal.timeout(2_000) })
              .then(async (res) => `${res.status} ${(await res.text()).slice(0, 500)}`)
              .catch(() => "no answer")
          : undefined;
      await service.dispose();
      if (last === undefined) throw err;
      // Its own "readiness check failed" lines, one per poll, would fill the tail: what led there is kept.
      const told = output
        .split("\n")
        .filter((line) => !line.includes("readiness check failed"))
        .join("\n");
      throw new WaitTimeoutError(
        `${(err as Error).message}; readiness answered ${last}; its output:\n${told.slice(-6_000)}`,
        {
          cause: err,
        },
      );
    }
  }
  return service;
}
