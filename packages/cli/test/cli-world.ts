import { type ChildProcessByStdio, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { createFleetWorld, disposeOnFailure, type FleetWorld } from "@dbplane/testkit";

const LAUNCHER = join(import.meta.dirname, "../../../scripts/dbplane");
/** One key for all the services, as in a real installation: one token works everywhere. */
export const JWT_SECRET = "cli-tests-secret-that-is-long-enough-0123456789";

/** What one run of the `dbplane` executable did. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A `dbplane` still running (events tail): what it wrote so far, and how to stop it. */
export interface RunningCli {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  stdout(): string;
  stderr(): string;
  /** Resolves when it exits. */
  readonly exited: Promise<CliRun>;
}

/**
 * The provisioner (local driver: real clusters), the router, the scheduler and the
 * projection-coordinator (its audit read model, for `events tail`) on one bus.
 */
export interface CliWorld extends FleetWorld {
  /** Runs `./scripts/dbplane …` as a user would, with its own HOME and XDG_CONFIG_HOME. */
  cli(args: readonly string[], env?: Record<string, string>): Promise<CliRun>;
  /** Starts `./scripts/dbplane …` and returns at once (killed by dispose if still running). */
  spawnCli(args: readonly string[], env?: Record<string, string>): RunningCli;
  readonly configHome: string;
}

export async function createCliWorld(): Promise<CliWorld> {
  const home = await mkdtemp(join(tmpdir(), "dbplane-cli-home-"));
  const configHome = join(home, "config");
  const running = new Set<ChildProcessByStdio<null, Readable, Readable>>();
  let fleet: FleetWorld | undefined;
  const dispose = async () => {
    for (const child of running) child.kill("SIGTERM");
    await fleet?.dispose();
    await rm(home, { recursive: true, force: true });
  };
  return disposeOnFailure(dispose, async () => {
    fleet = await createFleetWorld({
      label: "cli",
      jwtSecret: JWT_SECRET,
      serviceEnv: {
        // The audit read model (events tail) and the fleet's (status).
        "projection-coordinator": { DBPLANE_PROJECTIONS: "audit,fleet", DBPLANE_PG_POOL_SIZE: "3" },
      },
    });
    const cliEnv: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CONFIG_HOME: configHome };
    for (const name of ["DBPLANE_TOKEN", "DBPLANE_CONTEXT", "DBPLANE_JWT_SECRET"]) delete cliEnv[name];
    const spawnCli = (args: readonly string[], env: Record<string, string> = {}): RunningCli => {
      const child = spawn(LAUNCHER, args, { env: { ...cliEnv, ...env }, stdio: ["ignore", "pipe", "pipe"] });
      running.add(child);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk;
      });
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk;
      });
      const exited = new Promise<CliRun>((resolve, reject) => {
        child.on("error", reject);
        child.on("close", (code) => {
          running.delete(child);
          resolve({ code, stdout, stderr });
        });
      });
      return { child, stdout: () => stdout, stderr: () => stderr, exited };
    };
    return {
      ...fleet,
      configHome,
      cli: (args, env) => spawnCli(args, env).exited,
      spawnCli,
      dispose,
    };
  });
}
