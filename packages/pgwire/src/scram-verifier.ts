import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";

/** A role's SCRAM-SHA-256 secret as PostgreSQL stores it: enough to verify, not to log in. */
export interface ScramVerifier {
  readonly iterations: number;
  readonly salt: Buffer;
  /** H(ClientKey): checks the client's proof. */
  readonly storedKey: Buffer;
  /** HMAC(SaltedPassword, "Server Key"): signs the server's final message. */
  readonly serverKey: Buffer;
}

/** A verifier text that is not in PostgreSQL's `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>` form. */
export class InvalidScramVerifierError extends Error {
  readonly code = "INVALID_SCRAM_VERIFIER";

  constructor() {
    // The text itself is a secret's derivative: it stays out of the message.
    super("not a SCRAM-SHA-256 verifier in PostgreSQL's format");
    this.name = "InvalidScramVerifierError";
  }
}

const verifierPattern = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/]+=*)\$([A-Za-z0-9+/]+=*):([A-Za-z0-9+/]+=*)$/;

/**
 * Reads a verifier in PostgreSQL's format (`pg_authid.rolpassword` of a role whose password was
 * set under `password_encryption = scram-sha-256`).
 * @throws InvalidScramVerifierError
 */
export function parseScramVerifier(text: string): ScramVerifier {
  const match = verifierPattern.exec(text);
  if (match === null) throw new InvalidScramVerifierError();
  const [, iterations, salt, storedKey, serverKey] = match;
  const verifier = {
    iterations: Number(iterations),
    salt: Buffer.from(salt!, "base64"),
    storedKey: Buffer.from(storedKey!, "base64"),
    serverKey: Buffer.from(serverKey!, "base64"),
  };
  if (verifier.iterations < 1 || verifier.storedKey.length !== 32 || verifier.serverKey.length !== 32) {
    throw new InvalidScramVerifierError();
  }
  return verifier;
}

/**
 * Derives a verifier from a password, in PostgreSQL's format, as `CREATE ROLE … PASSWORD`
 * stores it. The password is used as its UTF-8 bytes: PostgreSQL applies SASLprep first, which
 * leaves ASCII passwords unchanged, so generate ASCII passwords (or let PostgreSQL derive it).
 */
export function createScramVerifier(
  password: string,
  { iterations = 4096, salt = randomBytes(16) }: { iterations?: number; salt?: Buffer } = {},
): string {
  const saltedPassword = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", saltedPassword).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", saltedPassword).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}
