import type { z } from "zod";
import type { MessageData, MessageDefinition } from "./message.ts";

/** One problem with a message's data: where (`shards.0.primary.port`) and what. */
export interface MessageDataIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * A message's `data` does not match its schema. Publishing it is a programming error; receiving
 * it sends the message to the DLQ with this error's message, which names every bad field.
 */
export class InvalidMessageDataError extends Error {
  override readonly name = "InvalidMessageDataError";
  readonly code = "INVALID_MESSAGE_DATA";
  readonly type: string;
  readonly issues: readonly MessageDataIssue[];

  constructor(type: string, issues: readonly MessageDataIssue[], options?: ErrorOptions) {
    const list = issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ");
    super(`invalid data for ${type}: ${list}`, options);
    this.type = type;
    this.issues = issues;
  }
}

function toIssues(error: z.ZodError): MessageDataIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message }));
}

/**
 * Validates `data` against the message's schema and returns the parsed value (defaults
 * applied). Throws InvalidMessageDataError naming every bad field path.
 */
export function parseMessageData<D extends MessageDefinition>(def: D, data: unknown): MessageData<D> {
  const result = def.schema.safeParse(data);
  if (!result.success)
    throw new InvalidMessageDataError(def.type, toIssues(result.error), { cause: result.error });
  return result.data as MessageData<D>;
}
