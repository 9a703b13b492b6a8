import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { serialize } from "pg-protocol";
import { BackendMessageType, type WireMessage } from "../src/index.ts";
import type { RawConnection } from "./raw-connection.ts";

function hmac(key: Buffer, text: string): Buffer {
  return createHmac("sha256", key).update(text).digest();
}

/**
 * Logs a raw connection in with SCRAM-SHA-256 as libpq does (RFC 5802 client side), then reads
 * the greeting up to ReadyForQuery, which it returns with the messages before it.
 */
export async function scramLogin(
  connection: RawConnection,
  { user, password, database }: { user: string; password: string; database: string },
): Promise<WireMessage[]> {
  connection.send(serialize.startup({ user, database }));
  await connection.message();
  const clientFirstBare = `n=*,r=${randomBytes(18).toString("base64")}`;
  connection.send(serialize.sendSASLInitialResponseMessage("SCRAM-SHA-256", `n,,${clientFirstBare}`));
  const serverFirst = (await connection.message()).bytes.subarray(9).toString();
  const attributes = new Map(serverFirst.split(",").map((part) => [part[0], part.slice(2)]));
  const salted = pbkdf2Sync(
    password,
    Buffer.from(attributes.get("s")!, "base64"),
    Number(attributes.get("i")),
    32,
    "sha256",
  );
  const clientKey = hmac(salted, "Client Key");
  const storedKey = createHash("sha256").update(clientKey).digest();
  const withoutProof = `c=biws,r=${attributes.get("r")}`;
  const signature = hmac(storedKey, `${clientFirstBare},${serverFirst},${withoutProof}`);
  const proof = Buffer.from(clientKey.map((byte, index) => byte ^ signature[index]!));
  connection.send(serialize.sendSCRAMClientFinalMessage(`${withoutProof},p=${proof.toString("base64")}`));
  const greeting: WireMessage[] = [];
  for (;;) {
    const message = await connection.message();
    greeting.push(message);
    if (
      message.type === BackendMessageType.ReadyForQuery ||
      message.type === BackendMessageType.ErrorResponse
    ) {
      return greeting;
    }
  }
}
