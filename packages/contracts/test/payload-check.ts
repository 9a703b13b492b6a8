import { expect } from "vitest";
import { InvalidMessageDataError, type MessageDefinition, parseMessageData } from "../src/index.ts";

/** Asserts that `data` is rejected and that the error names `path` (dot-joined). */
export function expectRejected(def: MessageDefinition, data: unknown, path: string): void {
  let error: unknown;
  try {
    parseMessageData(def, data);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(InvalidMessageDataError);
  const invalid = error as InvalidMessageDataError;
  expect(invalid.issues.map((i) => i.path)).toContain(path);
  expect(invalid.message).toContain(`${path || "(root)"}:`);
  expect(invalid.message).toContain(def.type);
}
