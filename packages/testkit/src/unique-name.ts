import { randomBytes } from "node:crypto";

/**
 * A name no other test (in this or a parallel process) uses: lower-case letters, digits and
 * underscores, starting with a letter, so it is valid as a PostgreSQL schema, a Redis key
 * prefix, and — upper-cased — a JetStream stream-name prefix.
 */
export function uniqueName(prefix = "t"): string {
  return `${prefix}_${process.pid.toString(36)}_${randomBytes(5).toString("hex")}`;
}
