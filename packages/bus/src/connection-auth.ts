import { readFileSync } from "node:fs";
import { credsAuthenticator, type NodeConnectionOptions, nkeyAuthenticator } from "@nats-io/transport-node";

/**
 * How the bus proves who it is to NATS, and how it checks the server. At most one of
 * user/password, token, NKey seed file and creds file; TLS may come with any of them (a client
 * certificate alone is also a way in when the server maps certificates to users).
 */
export interface NatsAuth {
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  readonly token?: string | undefined;
  /** A file holding an NKey user seed (`SU…`). */
  readonly nkeySeedFile?: string | undefined;
  /** A `.creds` file (user JWT + seed), as `nsc` or the NATS operator tooling writes it. */
  readonly credsFile?: string | undefined;
  readonly tls?: NatsTls | undefined;
}

/** TLS to NATS: the CA that signed the server's certificate, and an optional client certificate. */
export interface NatsTls {
  readonly caFile?: string | undefined;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
}

/** The NATS credentials or TLS settings are contradictory or a file cannot be read. */
export class NatsAuthConfigError extends Error {
  override readonly name = "NatsAuthConfigError";
  readonly code = "NATS_AUTH_CONFIG";
}

/**
 * The `connect` options for `auth`. Files are read once here, so a missing or unreadable file
 * fails the start with its path named; the NKey and creds files are read again at every
 * reconnect, so rotated credentials are picked up without a restart. Never puts a secret in an
 * error message.
 */
export function natsAuthOptions(auth: NatsAuth | undefined): Partial<NodeConnectionOptions> {
  if (!auth) return {};
  const methods = [
    (auth.user !== undefined || auth.password !== undefined) && "user/password",
    auth.token !== undefined && "token",
    auth.nkeySeedFile !== undefined && "NKey seed file",
    auth.credsFile !== undefined && "creds file",
  ].filter((m): m is string => typeof m === "string");
  if (methods.length > 1)
    throw new NatsAuthConfigError(`NATS credentials: choose one of ${methods.join(", ")}`);
  if ((auth.user === undefined) !== (auth.password === undefined))
    throw new NatsAuthConfigError("NATS credentials: a user needs a password and a password a user");

  const options: Partial<NodeConnectionOptions> = {};
  if (auth.user !== undefined) Object.assign(options, { user: auth.user, pass: auth.password });
  if (auth.token !== undefined) options.token = auth.token;
  if (auth.nkeySeedFile !== undefined) {
    const file = auth.nkeySeedFile;
    readable(file, "NKey seed file");
    options.authenticator = nkeyAuthenticator(() =>
      new TextEncoder().encode(readFileSync(file, "utf8").trim()),
    );
  }
  if (auth.credsFile !== undefined) {
    const file = auth.credsFile;
    readable(file, "creds file");
    options.authenticator = credsAuthenticator(() => readFileSync(file));
  }
  if (auth.tls) options.tls = tlsOptions(auth.tls);
  return options;
}

function tlsOptions(tls: NatsTls): NonNullable<NodeConnectionOptions["tls"]> {
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined))
    throw new NatsAuthConfigError("NATS TLS: a client certificate needs its key and a key its certificate");
  if (tls.caFile !== undefined) readable(tls.caFile, "TLS CA file");
  if (tls.certFile !== undefined) readable(tls.certFile, "TLS certificate file");
  if (tls.keyFile !== undefined) readable(tls.keyFile, "TLS key file");
  return {
    ...(tls.caFile !== undefined && { caFile: tls.caFile }),
    ...(tls.certFile !== undefined && { certFile: tls.certFile, keyFile: tls.keyFile }),
  };
}

function readable(file: string, what: string): void {
  try {
    if (readFileSync(file).length === 0) throw new Error("file is empty");
  } catch (err) {
    throw new NatsAuthConfigError(`NATS ${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
}
