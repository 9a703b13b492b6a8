import { spawn } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import type { ServerUser } from "./server-user.ts";

/** A PostgreSQL program exited non-zero; `output` is its own (stdout and stderr, tail only). */
export class ProgramFailedError extends Error {
  override readonly name = "ProgramFailedError";
  readonly code = "PROGRAM_FAILED";
  readonly exitCode: number | null;
  constructor(program: string, exitCode: number | null, output: string) {
    super(`${program} exited with ${exitCode ?? "a signal"}: ${output.trim().slice(-800) || "(no output)"}`);
    this.exitCode = exitCode;
  }
}

export interface RunProgramOptions {
  readonly user: ServerUser;
  /** Password for libpq programs: passed in the environment, never on the command line. */
  readonly password?: string;
  /** For libpq programs: a CA file; set, they connect with `sslmode=verify-full` against it. */
  readonly tlsCa?: string | undefined;
  /** Written with the child's pid while it runs, so a restarted provisioner can stop a leftover. */
  readonly pidFile?: string;
  readonly timeoutMs?: number;
}

/**
 * Runs a program as the server user in its own process group (so a signal to the provisioner's
 * group — Ctrl-C, a test runner's kill — never reaches a postmaster it starts) and resolves with
 * its output, or rejects with ProgramFailedError.
 */
export async function runProgram(
  path: string,
  args: readonly string[],
  options: RunProgramOptions,
): Promise<string> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    LANG: "C.UTF-8",
    LC_ALL: "C.UTF-8",
    ...(options.password !== undefined && { PGPASSWORD: options.password }),
    ...(options.tlsCa !== undefined && { PGSSLMODE: "verify-full", PGSSLROOTCERT: options.tlsCa }),
  };
  const child = spawn(path, args, {
    env,
    cwd: "/",
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.user.uid !== undefined && { uid: options.user.uid, gid: options.user.gid }),
  });
  if (options.pidFile && child.pid) await writeFile(options.pidFile, String(child.pid));
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  });
  const timer = options.timeoutMs
    ? setTimeout(() => child.kill("SIGKILL"), options.timeoutMs).unref()
    : undefined;
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (exitCode) => resolve(exitCode));
    });
    const name = path.split("/").at(-1) ?? path;
    if (code !== 0) throw new ProgramFailedError(name, code, output);
    return output;
  } finally {
    if (timer) clearTimeout(timer);
    if (options.pidFile) await rm(options.pidFile, { force: true });
  }
}
