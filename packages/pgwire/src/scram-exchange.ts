import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { ScramVerifier } from "./scram-verifier.ts";
import { protocolViolation, SqlState, WireError } from "./wire-error.ts";

/** The one SASL mechanism offered. Without -PLUS (channel binding) a TLS client still authenticates. */
export const SCRAM_SHA_256 = "SCRAM-SHA-256";

// Per process: the salt of a role that does not exist is stable across attempts but unguessable,
// so a client cannot tell a missing role from a wrong password (PostgreSQL's mock authentication).
const mockSecret = randomBytes(32);

function mockVerifier(user: string): ScramVerifier {
  const salt = createHmac("sha256", mockSecret).update(user).digest().subarray(0, 16);
  return { iterations: 4096, salt, storedKey: randomBytes(32), serverKey: randomBytes(32) };
}

function attributes(message: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const part of message.split(",")) {
    if (part.length < 2 || part[1] !== "=") throw protocolViolation("malformed SCRAM message");
    result.set(part[0]!, part.slice(2));
  }
  return result;
}

/**
 * The server side of one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677), as PostgreSQL runs it: the
 * user name in the client's message is ignored (the startup packet's counts), channel binding is
 * not offered, and a role without a verifier goes through the same steps and fails the same way.
 */
export class ScramExchange {
  readonly #user: string;
  readonly #verifier: ScramVerifier;
  readonly #known: boolean;
  #gs2Header = "";
  #clientFirstBare = "";
  #serverFirst = "";
  #nonce = "";
  readonly #serverNonce: () => string;

  /**
   * @param verifier the role's verifier; `undefined` for a role that does not exist
   * @param serverNonce the server's part of the nonce (18 random bytes unless a test fixes it)
   */
  constructor(
    user: string,
    verifier: ScramVerifier | undefined,
    serverNonce: () => string = () => randomBytes(18).toString("base64"),
  ) {
    this.#user = user;
    this.#serverNonce = serverNonce;
    this.#known = verifier !== undefined;
    this.#verifier = verifier ?? mockVerifier(user);
  }

  /**
   * Takes client-first-message, returns server-first-message.
   * @throws WireError 08P01 for a malformed message or a channel binding the server did not offer
   */
  serverFirst(clientFirst: string): string {
    const match = /^([ny]|p=[^,]*),([^,]*),(.*)$/.exec(clientFirst);
    if (match === null) throw protocolViolation("malformed SCRAM message");
    if (match[1]!.startsWith("p=")) {
      throw protocolViolation("channel binding is not supported by this server");
    }
    if (match[2] !== "")
      throw protocolViolation("client uses authorization identity, but it is not supported");
    this.#gs2Header = `${match[1]},${match[2]},`;
    this.#clientFirstBare = match[3]!;
    const clientNonce = attributes(this.#clientFirstBare).get("r");
    if (clientNonce === undefined || clientNonce === "" || !/^[\x21-\x2b\x2d-\x7e]+$/.test(clientNonce)) {
      throw protocolViolation("malformed SCRAM message: invalid nonce");
    }
    this.#nonce = clientNonce + this.#serverNonce();
    const { salt, iterations } = this.#verifier;
    this.#serverFirst = `r=${this.#nonce},s=${salt.toString("base64")},i=${iterations}`;
    return this.#serverFirst;
  }

  /**
   * Takes client-final-message, checks the proof, returns server-final-message.
   * @throws WireError 28P01 when the proof does not match, 08P01 for a malformed message
   */
  serverFinal(clientFinal: string): string {
    const proofAt = clientFinal.lastIndexOf(",p=");
    if (proofAt < 0) throw protocolViolation("malformed SCRAM message: no proof");
    const withoutProof = clientFinal.slice(0, proofAt);
    const fields = attributes(withoutProof);
    if (fields.get("c") !== Buffer.from(this.#gs2Header).toString("base64")) {
      throw protocolViolation("unexpected SCRAM channel-binding attribute in client-final-message");
    }
    if (fields.get("r") !== this.#nonce) throw protocolViolation("SCRAM nonce mismatch");
    const proof = Buffer.from(clientFinal.slice(proofAt + 3), "base64");
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`;
    if (!this.#proofMatches(proof, authMessage)) throw this.#failed();
    const signature = createHmac("sha256", this.#verifier.serverKey).update(authMessage).digest();
    return `v=${signature.toString("base64")}`;
  }

  #proofMatches(proof: Buffer, authMessage: string): boolean {
    if (proof.length !== 32) return false;
    const clientSignature = createHmac("sha256", this.#verifier.storedKey).update(authMessage).digest();
    const clientKey = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    const storedKey = createHash("sha256").update(clientKey).digest();
    return timingSafeEqual(storedKey, this.#verifier.storedKey) && this.#known;
  }

  #failed(): WireError {
    return new WireError({
      severity: "FATAL",
      code: SqlState.InvalidPassword,
      message: `password authentication failed for user "${this.#user}"`,
    });
  }
}
