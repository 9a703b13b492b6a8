import type { ApiClient } from "./api-client.ts";
import { CliError } from "./cli-error.ts";
import { ExitCode } from "./exit-codes.ts";
import { FOLLOW_INTERVAL_MS } from "./follow-operation.ts";
import { progressLine } from "./progress-line.ts";

/** The router's reshard document (`GET /v1/databases/:db/reshards/:id`), the fields the CLI reads. */
export interface Reshard {
  readonly id: string;
  readonly database: string;
  readonly kind: "split" | "move" | "merge";
  readonly sourceShard: number;
  readonly targetShard: number | null;
  readonly moved: { readonly from: string; readonly to: string } | null;
  readonly phase: string;
  readonly state: "running" | "completed" | "failed" | "cancelled";
  readonly cancelRequested: boolean;
  readonly progress: {
    readonly rowsCopied: number;
    readonly rowsTotal: number;
    readonly replicationLagBytes: number | null;
  };
  readonly writePauseMs: number | null;
  readonly mapVersion: number | null;
  readonly error: string | null;
  readonly createdAt: string;
  readonly finishedAt: string | null;
}

/** The router's phases, in order (contracts' RESHARD_PHASES), for "phase 2/6". */
export const RESHARD_PHASES = [
  "provisioning",
  "copying",
  "catching-up",
  "verifying",
  "cutting-over",
  "cleaning-up",
] as const;

/** `split 0→2: phase 2/6 copying, 1200/5000 rows, lag 0 B`: one reshard's progress in words. */
export function describeReshard(r: Reshard, target: number | null = null): string {
  const index = RESHARD_PHASES.indexOf(r.phase as (typeof RESHARD_PHASES)[number]);
  const step = index < 0 ? r.phase : `phase ${index + 1}/${RESHARD_PHASES.length} ${r.phase}`;
  const parts = [step];
  if (r.progress.rowsTotal > 0 || r.progress.rowsCopied > 0) {
    parts.push(`${r.progress.rowsCopied}/${r.progress.rowsTotal} rows`);
  }
  if (r.progress.replicationLagBytes !== null) parts.push(`lag ${r.progress.replicationLagBytes} B`);
  if (r.cancelRequested && r.state === "running") parts.push("cancelling");
  return `${reshardLabel(r, target)}: ${parts.join(", ")}`;
}

/**
 * `split clishop 0→2`; `split clishop 0` while the target is still being chosen or added, unless
 * the caller already knows it (`target`: the `--to-shard` it asked for).
 */
export function reshardLabel(r: Reshard, target: number | null = null): string {
  const to = r.targetShard ?? target;
  return `${r.kind} ${r.database} ${r.sourceShard}${to === null ? "" : `→${to}`}`;
}

/**
 * Follows a reshard until it completes, fails or is cancelled, a line per phase (and per
 * progress change) as the router reports it. Failed or cancelled is a {@link CliError} (exit 1).
 * `target` is the shard the request named, shown before the router reports it.
 */
export async function followReshard(
  router: ApiClient,
  database: string,
  id: string,
  target: number | null = null,
): Promise<Reshard> {
  const progress = progressLine();
  const path = `/v1/databases/${encodeURIComponent(database)}/reshards/${encodeURIComponent(id)}`;
  for (;;) {
    const r = (await router.request<Reshard>("GET", path)).body;
    if (r.state === "completed") {
      progress.done(true, `${reshardLabel(r, target)}: completed (shard map version ${r.mapVersion ?? "?"})`);
      return r;
    }
    if (r.state !== "running") {
      progress.done(false, `${reshardLabel(r, target)}: ${r.state}`);
      throw new CliError(
        `${reshardLabel(r, target)} ${r.state}: ${r.error ?? "no reason given"}`,
        ExitCode.apiError,
      );
    }
    progress.update(describeReshard(r, target));
    await new Promise((resolve) => setTimeout(resolve, FOLLOW_INTERVAL_MS));
  }
}
