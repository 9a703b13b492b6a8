import {
  BackendMessageType as B,
  backendMessage,
  type FieldDescription,
  MESSAGE_BODY_OFFSET,
  type WireMessage,
} from "@dbplane/pgwire";
import { type MergePlan, mergeRows } from "@dbplane/sqlroute";

/** Every message one shard answered a request with, ReadyForQuery excluded. */
export type ShardAnswer = readonly WireMessage[];

/** How the answers of several shards become one. */
export type Combine =
  /** The same statement ran everywhere (DDL, a write to a replicated table): one shard's answer. */
  | { readonly kind: "first" }
  /** Each shard did its part of a write: rows concatenated, CommandComplete counts added. */
  | { readonly kind: "sum" }
  /** A read over all shards: rows merged by the plan (`params`: the bind values, for LIMIT $n). */
  | { readonly kind: "merge"; readonly merge: MergePlan; readonly params?: readonly (string | null)[] };

/**
 * The result of combining: the RowDescription (or NoData) apart, as Describe answers it in the
 * extended protocol, and the rest (rows, CommandComplete, or notices and the error).
 */
export interface Combined {
  readonly description: Buffer | undefined;
  readonly body: Buffer[];
  readonly failed: boolean;
}

function body(message: WireMessage): Buffer {
  return message.bytes.subarray(MESSAGE_BODY_OFFSET);
}

/** The fields of a RowDescription. */
export function rowFields(message: WireMessage): FieldDescription[] {
  const bytes = body(message);
  const count = bytes.readInt16BE(0);
  const fields: FieldDescription[] = [];
  let offset = 2;
  for (let i = 0; i < count; i++) {
    const end = bytes.indexOf(0, offset);
    const name = bytes.toString("utf8", offset, end);
    offset = end + 1;
    fields.push({
      name,
      tableOid: bytes.readInt32BE(offset),
      columnNumber: bytes.readInt16BE(offset + 4),
      typeOid: bytes.readInt32BE(offset + 6),
      typeSize: bytes.readInt16BE(offset + 10),
      typeModifier: bytes.readInt32BE(offset + 12),
      format: bytes.readInt16BE(offset + 16) as 0 | 1,
    });
    offset += 18;
  }
  return fields;
}

/** A DataRow's values as text (NULL as null). */
export function rowValues(message: WireMessage): (string | null)[] {
  const bytes = body(message);
  const count = bytes.readInt16BE(0);
  const values: (string | null)[] = [];
  let offset = 2;
  for (let i = 0; i < count; i++) {
    const length = bytes.readInt32BE(offset);
    offset += 4;
    if (length < 0) values.push(null);
    else {
      values.push(bytes.toString("utf8", offset, offset + length));
      offset += length;
    }
  }
  return values;
}

/** A CommandComplete's tag, e.g. `INSERT 0 3`. */
export function commandTag(message: WireMessage): string {
  return message.bytes.toString("utf8", MESSAGE_BODY_OFFSET, message.bytes.length - 1);
}

/** `INSERT 0 3` + `INSERT 0 2` = `INSERT 0 5`; tags without a count are kept as they are. */
function addTags(tags: readonly string[]): string {
  const first = tags[0] ?? "";
  const match = /^(.*?)(\d+)$/.exec(first);
  if (match === null) return first;
  let total = 0;
  for (const tag of tags) total += Number(/(\d+)$/.exec(tag)?.[1] ?? 0);
  return `${match[1]}${total}`;
}

const isDescription = (m: WireMessage) => m.type === B.RowDescription || m.type === B.NoData;
const isBookkeeping = (m: WireMessage) =>
  m.type === B.ParseComplete || m.type === B.BindComplete || m.type === B.CloseComplete;

/**
 * Combines the shards' answers. An error from any shard is the answer (the first in shard
 * order); otherwise per `combine`.
 */
export function combineAnswers(answers: readonly ShardAnswer[], combine: Combine): Combined {
  for (const answer of answers) {
    const error = answer.find((m) => m.type === B.ErrorResponse);
    if (error) {
      const notices = answer.filter((m) => m.type === B.NoticeResponse).map((m) => m.bytes);
      return { description: undefined, body: [...notices, error.bytes], failed: true };
    }
  }
  const first = answers[0] ?? [];
  const description = first.find(isDescription);
  const rest = (answer: ShardAnswer) => answer.filter((m) => !isDescription(m) && !isBookkeeping(m));
  if (combine.kind === "first") {
    return { description: description?.bytes, body: rest(first).map((m) => m.bytes), failed: false };
  }
  if (combine.kind === "merge" && description?.type === B.RowDescription) {
    return mergeAnswers(answers.map(rest), description, combine.merge, combine.params ?? []);
  }
  // COPY TO STDOUT from every shard: one CopyOutResponse, every shard's data, one CopyDone.
  const body: Buffer[] = [];
  let copyDone = false;
  for (const [i, answer] of answers.entries()) {
    for (const m of rest(answer)) {
      if (m.type === B.CommandComplete || (i > 0 && m.type === B.CopyOutResponse)) continue;
      if (m.type === B.CopyDone) copyDone = true;
      else body.push(m.bytes);
    }
  }
  if (copyDone) body.push(backendMessage.copyDone());
  const tags = answers.flatMap((a) => a.filter((m) => m.type === B.CommandComplete).map(commandTag));
  if (tags.length > 0) body.push(backendMessage.commandComplete(addTags(tags)));
  return { description: description?.bytes, body, failed: false };
}

function mergeAnswers(
  answers: readonly ShardAnswer[],
  descriptionMessage: WireMessage,
  merge: MergePlan,
  params: readonly (string | null)[],
): Combined {
  const fields = rowFields(descriptionMessage);
  const shown = fields.slice(0, fields.length - merge.hiddenColumns);
  const perShard = answers.map((answer) => answer.filter((m) => m.type === B.DataRow).map(rowValues));
  const merged = mergeRows(
    merge,
    fields.map((f) => f.typeOid),
    perShard,
    params,
  );
  const body: Buffer[] = [];
  for (const answer of answers) for (const m of answer) if (m.type === B.NoticeResponse) body.push(m.bytes);
  for (const row of merged) body.push(backendMessage.dataRow(row.slice(0, shown.length)));
  body.push(backendMessage.commandComplete(`SELECT ${merged.length}`));
  return { description: backendMessage.rowDescription(shown), body, failed: false };
}
