import type { CreateDatabase } from "@dbplane/contracts";
import type { DatabaseSpec } from "./database-spec.ts";

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
