import { readFile } from "node:fs/promises";

/**
 * node-postgres `ssl` options for `verify-full`: the server's certificate must chain to `ca` and
 * name the host connected to (node checks an IP address against the certificate's IP SANs).
 */
export interface ShardTls {
  readonly ca: string;
  readonly rejectUnauthorized: true;
}

/** The CA file could not be read: connections that must verify cannot be made. */
export class ShardCaUnavailableError extends Error {
  override readonly name = "ShardCaUnavailableError";
  readonly code = "SHARD_CA_UNAVAILABLE";
  constructor(path: string, cause: unknown) {
    super(`DBPLANE_SHARD_TLS_CA: cannot read ${path} (${(cause as NodeJS.ErrnoException).code ?? "error"})`, {
      cause,
    });
  }
}

/**
 * The TLS options for shard connections, or undefined (no TLS) when no CA is configured. Read on
 * each call, not at start: the local provisioner creates its CA when it first starts, possibly
 * after the service that reads it.
 * @throws ShardCaUnavailableError when a CA is configured but cannot be read
 */
export async function shardTls(caPath: string | undefined): Promise<ShardTls | undefined> {
  if (caPath === undefined) return undefined;
  try {
    const ca = await readFile(caPath, "utf8");
    if (!ca.includes("-----BEGIN CERTIFICATE-----"))
      throw Object.assign(new Error("not PEM"), { code: "NOT_PEM" });
    return { ca, rejectUnauthorized: true };
  } catch (err) {
    throw new ShardCaUnavailableError(caPath, err);
  }
}
