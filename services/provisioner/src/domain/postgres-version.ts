import type { CreateDatabase } from "@dbplane/contracts";
import type { DatabaseSpec } from "./database-spec.ts";
import { PermanentProvisionError } from "./errors.ts";

/**
 * The PostgreSQL major a database gets when its request names none, where the provisioner cannot
 * look at what is installed (Kubernetes pulls `<image>:<major>`; 17 is the newest major the
 * official image has had long enough to be the safe choice). The local driver asks its machine.
 */
export const DEFAULT_POSTGRES_VERSION = 17;

/**
 * The request with its PostgreSQL version made concrete: the stored spec and every event name a
 * version, so a later default (a newer major installed, a new provisioner) never changes the
 * version of a database that exists.
 */
export async function withPostgresVersion(
  request: CreateDatabase,
  chooseDefault: () => Promise<number>,
): Promise<DatabaseSpec> {
  return { ...request, postgresVersion: request.postgresVersion ?? (await chooseDefault()) };
}

/**
 * The oldest major dbplane provisions: every shard gets the reshard role, whose
 * `GRANT SET ON PARAMETER session_replication_role` PostgreSQL 15 introduced (14 is past its end
 * of life since November 2026 anyway).
 */
export const MIN_POSTGRES_VERSION = 15;

/** @throws PermanentProvisionError naming the version and why, for a major older than {@link MIN_POSTGRES_VERSION}. */
export function assertSupportedVersion(spec: Pick<DatabaseSpec, "postgresVersion">): void {
  if (spec.postgresVersion < MIN_POSTGRES_VERSION) {
    throw new PermanentProvisionError(
      `PostgreSQL ${spec.postgresVersion} is not supported: the reshard role's grant (GRANT SET ON PARAMETER) needs PostgreSQL ${MIN_POSTGRES_VERSION} or later`,
    );
  }
}
