import type { ApiClient } from "./api-client.ts";
import { ApiError, CliError } from "./cli-error.ts";
import { ExitCode } from "./exit-codes.ts";
import { progressLine } from "./progress-line.ts";

/** The provisioner's `GET /v1/operations/:id`. */
export interface Operation {
  readonly id: string;
  readonly kind: string;
  readonly database: string;
  readonly state: "pending" | "succeeded" | "failed";
  readonly error: string | null;
}

interface DatabaseView {
  readonly state: string;
  readonly shards: readonly { readonly state: string }[];
}

/** How often the operation is asked again: a person watching sees each step, the API barely notices. */
export const FOLLOW_INTERVAL_MS = 500;

/** `provisioning, 1/2 shards ready`: what the database looks like while its operation runs. */
async function describeDatabase(provisioner: ApiClient, name: string): Promise<string> {
  try {
    const db = (await provisioner.request<DatabaseView>("GET", `/v1/databases/${encodeURIComponent(name)}`))
      .body;
    const ready = db.shards.filter((s) => s.state === "ready").length;
    return `${db.state}, ${ready}/${db.shards.length} shards ready`;
  } catch (err) {
    // Gone while deleting: the operation's own state still says how it ended.
    if (err instanceof ApiError && err.status === 404) return "gone";
    throw err;
  }
}

/**
 * Follows operation `id` until it succeeds or fails, showing the database's state as it goes.
 * A failure is a {@link CliError} (exit 1) with the provisioner's reason.
 */
export async function followOperation(provisioner: ApiClient, id: string): Promise<Operation> {
  const progress = progressLine();
  const path = `/v1/operations/${encodeURIComponent(id)}`;
  for (;;) {
    const op = (await provisioner.request<Operation>("GET", path)).body;
    const label = `${op.kind} ${op.database}`;
    if (op.state === "succeeded") {
      progress.done(true, `${label}: succeeded`);
      return op;
    }
    if (op.state === "failed") {
      progress.done(false, `${label}: failed`);
      throw new CliError(`${label} failed: ${op.error ?? "no reason given"}`, ExitCode.apiError);
    }
    progress.update(`${label}: ${await describeDatabase(provisioner, op.database)}`);
    await new Promise((resolve) => setTimeout(resolve, FOLLOW_INTERVAL_MS));
  }
}
