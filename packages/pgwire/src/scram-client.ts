import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";

function hmac(key: Buffer, text: string): Buffer {
  return createHmac("sha256", key).update(text).digest();
}

/** A server's SCRAM answer we cannot accept (malformed, wrong nonce, forged signature). */
export class ScramClientError extends Error {
  readonly code = "SCRAM_CLIENT";

  constructor(message: string) {
    super(message);
    this.name = "ScramClientError";
  }
}

/**
 * The client side of one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677) as libpq runs it: no
 * channel binding, the user name left to the startup packet (`n=*`), and the server's final
 * signature checked so a server that does not know the verifier cannot pose as the shard.
 */
export class ScramClient {
  readonly #password: string;
  readonly #clientNonce = randomBytes(18).toString("base64");
  #clientFirstBare = "";
  #serverSignature: Buffer | undefined;

  constructor(password: string) {
    this.#password = password;
  }

  /** The client-first-message (gs2 header included), for SASLInitialResponse. */
  clientFirst(): string {
    this.#clientFirstBare = `n=*,r=${this.#clientNonce}`;
    return `n,,${this.#clientFirstBare}`;
  }

  /** Takes server-first-message, returns client-final-message. */
  clientFinal(serverFirst: string): string {
    const attributes = new Map(serverFirst.split(",").map((part) => [part[0], part.slice(2)]));
    const nonce = attributes.get("r");
    const salt = attributes.get("s");
    const iterations = Number(attributes.get("i"));
    if (nonce === undefined || !nonce.startsWith(this.#clientNonce) || nonce === this.#clientNonce) {
      throw new ScramClientError("server nonce does not extend the client's");
    }
    if (salt === undefined || !Number.isSafeInteger(iterations) || iterations < 1) {
      throw new ScramClientError("malformed SCRAM server-first-message");
    }
    const salted = pbkdf2Sync(this.#password, Buffer.from(salt, "base64"), iterations, 32, "sha256");
    const clientKey = hmac(salted, "Client Key");
    const storedKey = createHash("sha256").update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.from(clientKey.map((byte, index) => byte ^ signature[index]!));
    this.#serverSignature = hmac(hmac(salted, "Server Key"), authMessage);
    return `${withoutProof},p=${proof.toString("base64")}`;
  }

  /** Checks server-final-message's signature. */
  verifyServerFinal(serverFinal: string): void {
    const match = /(?:^|,)v=([^,]*)/.exec(serverFinal);
    const received = match === null ? undefined : Buffer.from(match[1]!, "base64");
    const expected = this.#serverSignature;
    if (
      received === undefined ||
      expected === undefined ||
      received.length !== expected.length ||
      !timingSafeEqual(received, expected)
    ) {
      throw new ScramClientError("invalid SCRAM server signature");
    }
  }
}
