import { readFile } from "node:fs/promises";
import type { ShardEndpointSpec } from "../domain/shard-map.ts";

/** The password of a shard cannot be obtained; the shard answers 503 with this reason. */
export class PasswordUnavailableError extends Error {
  override readonly name = "PasswordUnavailableError";
  readonly code = "PASSWORD_UNAVAILABLE";
}

/**
 * Resolves a shard's password reference. `file` (local driver): the file's content without a
 * trailing newline. `secret` (Kubernetes driver): not read by the router yet — it would need
 * RBAC on Secrets in every database namespace; until then such shards answer 503 naming the
 * reason. The password stays in memory only: never logged, never returned.
 */
export async function resolvePassword(ref: ShardEndpointSpec["passwordRef"]): Promise<string> {
  if (ref.kind === "file") {
    try {
      return (await readFile(ref.path, "utf8")).replace(/\r?\n$/, "");
    } catch (err) {
      throw new PasswordUnavailableError(
        `cannot read the password file (${(err as NodeJS.ErrnoException).code})`,
        {
          cause: err,
        },
      );
    }
  }
  throw new PasswordUnavailableError(
    `password reference of kind "${ref.kind}" (${ref.namespace}/${ref.name}) is not supported by the router yet`,
  );
}
