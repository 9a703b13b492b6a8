import { readFile, writeFile } from "node:fs/promises";

/**
 * Points of a reshard where a test can hold the runner, to kill it exactly there: the start of
 * each phase, and in the cut-over just before and just after the next map version is published.
 */
export type HoldPoint =
  | "provisioning"
  | "copying"
  | "catching-up"
  | "verifying"
  | "cutting-over"
  | "cleaning-up"
  | "cutting-over:publishing"
  | "cutting-over:published";

/** Waits at a point while it is held; resolves at once when it is not, or when `signal` aborts. */
export type Hold = (point: HoldPoint, signal: AbortSignal) => Promise<void>;

const POLL_MS = 50;

async function named(file: string): Promise<string> {
  return (await readFile(file, "utf8").catch(() => "")).trim();
}

/**
 * Holds for tests (DBPLANE_ROUTER_RESHARD_HOLD_FILE): a runner reaching the point the file names
 * writes `<file>.held` (the point and its pid) and waits until the file names something else.
 * Without a file nothing is ever held — one read of nothing per point, never in production paths
 * that matter for speed.
 */
export function holdFromFile(file: string | undefined): Hold {
  if (file === undefined) return async () => {};
  return async (point, signal) => {
    if ((await named(file)) !== point) return;
    await writeFile(`${file}.held`, `${point} ${process.pid}\n`);
    while (!signal.aborted && (await named(file)) === point) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };
}
