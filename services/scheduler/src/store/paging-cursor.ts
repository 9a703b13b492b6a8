import { InvalidCursorError } from "./errors.ts";

/** Opaque keyset cursors: the caller hands back what it got, and cannot craft a query from it. */
export function encodeCursor(key: string): string {
  return Buffer.from(JSON.stringify({ k: key }), "utf8").toString("base64url");
}

export function decodeCursor(cursor: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (typeof parsed === "object" && parsed !== null && typeof (parsed as { k?: unknown }).k === "string") {
      return (parsed as { k: string }).k;
    }
  } catch (err) {
    throw new InvalidCursorError({ cause: err });
  }
  throw new InvalidCursorError();
}
