import { BackendMessageType as B, backendMessage, type WireMessage } from "@dbplane/pgwire";
import type { StatementPlan } from "@dbplane/sqlroute";
import type { ServerConnection } from "./server-connection.ts";
import { combineAnswers } from "./shard-results.ts";
import { frontend } from "./wire-protocol.ts";

/** How rows are split: the key column's position, and the shard owning a key value. */
export interface CopySplit {
  readonly index: number;
  readonly shardOf: (value: string | null) => number;
}

type CopyInPlan = StatementPlan & { kind: "copy-in" };

const quote = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** The 0-based position of `column` among the table's columns (COPY without a column list). */
export async function copyKeyColumnIndex(
  connection: ServerConnection,
  table: string,
  column: string,
): Promise<number> {
  const value = await connection.value(
    `SELECT count(*) FROM pg_catalog.pg_attribute WHERE attrelid = ${quote(table)}::regclass AND attnum > 0 AND NOT attisdropped AND attnum < (SELECT attnum FROM pg_catalog.pg_attribute WHERE attrelid = ${quote(table)}::regclass AND attname = ${quote(column)})`,
  );
  return Number(value ?? 0);
}

/**
 * COPY … FROM STDIN over every shard: rows of a sharded table go to the shard owning their key
 * (text and CSV formats, split at line ends), rows of a table on every shard go everywhere.
 */
export class CopyIn {
  readonly connections: readonly ServerConnection[];
  readonly #plan: CopyInPlan;
  readonly #split: CopySplit | undefined;
  readonly #write: (bytes: Buffer) => void;
  readonly #answers: WireMessage[][];
  #ready: Promise<unknown>[] = [];
  #pending: Buffer = Buffer.alloc(0);
  #headerSeen = false;
  #ended = false;
  readonly #position: Map<number, number>;

  constructor(
    connections: readonly ServerConnection[],
    plan: CopyInPlan,
    split: CopySplit | undefined,
    write: (bytes: Buffer) => void,
  ) {
    this.connections = connections;
    this.#plan = plan;
    this.#split = plan.copyFormat.format === "binary" ? undefined : split;
    this.#write = write;
    this.#answers = connections.map(() => []);
    this.#position = new Map(connections.map((c, i) => [c.shard, i]));
  }

  /** Sends the COPY to every shard; true once all are ready for data (else the error was written). */
  async start(sql: string): Promise<boolean> {
    if (
      this.#plan.copyFormat.format === "binary" &&
      this.#plan.keyType !== undefined &&
      this.connections.length > 1
    ) {
      this.#write(
        backendMessage.errorResponse({
          severity: "ERROR",
          code: "0A000",
          message: "binary COPY into a sharded table is not supported by the router",
          hint: "Use the text or CSV format.",
        }),
      );
      return false;
    }
    const started: Promise<WireMessage | undefined>[] = [];
    this.#ready = this.connections.map((connection, i) => {
      let resolveStart: (m: WireMessage | undefined) => void = () => {};
      started.push(new Promise((resolve) => (resolveStart = resolve)));
      connection.receiver = (message) => {
        if (message.type === B.CopyInResponse) resolveStart(message);
        else if (message.type !== B.ReadyForQuery) this.#answers[i]!.push(message);
      };
      const ready = connection.request(frontend.query(sql));
      ready.then(
        () => resolveStart(undefined),
        () => resolveStart(undefined),
      );
      return ready;
    });
    const responses = await Promise.all(started);
    if (responses.every((r) => r !== undefined)) {
      this.#write(responses[0]!.bytes);
      return true;
    }
    for (const [i, response] of responses.entries()) {
      if (response !== undefined)
        this.connections[i]!.send(frontend.copyFail("COPY failed on another shard"));
    }
    await Promise.allSettled(this.#ready);
    const error = this.#answers.flat().find((m) => m.type === B.ErrorResponse);
    if (error) this.#write(error.bytes);
    return false;
  }

  /** A CopyData's payload from the client. */
  data(chunk: Buffer): void {
    if (this.#ended) return;
    const split = this.#split;
    if (split === undefined) {
      for (const connection of this.connections) connection.send(frontend.copyData(Buffer.from(chunk)));
      return;
    }
    const bytes = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const perShard = new Map<number, Buffer[]>();
    let start = 0;
    for (let end = bytes.indexOf(10, start); end >= 0; end = bytes.indexOf(10, start)) {
      this.#line(bytes.subarray(start, end + 1), split, perShard);
      start = end + 1;
    }
    this.#pending = Buffer.from(bytes.subarray(start));
    this.#send(perShard);
  }

  #line(line: Buffer, split: CopySplit, perShard: Map<number, Buffer[]>): void {
    const text = line.toString("utf8").replace(/\r?\n$/, "");
    if (text === "\\.") {
      this.#ended = true;
      return;
    }
    if (this.#plan.copyFormat.header && !this.#headerSeen) {
      this.#headerSeen = true;
      for (const connection of this.connections) perShard.set(connection.shard, [line]);
      return;
    }
    const shard = split.shardOf(this.#field(text, split.index));
    const lines = perShard.get(shard);
    if (lines) lines.push(line);
    else perShard.set(shard, [line]);
  }

  #field(text: string, index: number): string | null {
    const { format, delimiter, null: nullText } = this.#plan.copyFormat;
    const raw = text.split(delimiter)[index];
    if (raw === undefined || raw === nullText) return null;
    if (format === "csv")
      return raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1).replaceAll('""', '"') : raw;
    return raw.replace(/\\(.)/g, "$1");
  }

  #send(perShard: Map<number, Buffer[]>): void {
    for (const [shard, lines] of perShard) {
      this.connections[this.#position.get(shard)!]!.send(frontend.copyData(Buffer.concat(lines)));
    }
  }

  /** CopyDone: ends the COPY everywhere and writes the total. Resolves whether it failed. */
  async finish(): Promise<boolean> {
    if (this.#pending.length > 0 && this.#split) {
      const perShard = new Map<number, Buffer[]>();
      this.#line(Buffer.concat([this.#pending, Buffer.from("\n")]), this.#split, perShard);
      this.#send(perShard);
    }
    for (const connection of this.connections) connection.send(frontend.copyDone());
    return this.#end();
  }

  /** CopyFail (or a protocol slip): aborts the COPY everywhere, the server's error is the answer. */
  async fail(reason: string): Promise<boolean> {
    for (const connection of this.connections) connection.send(frontend.copyFail(reason));
    await this.#end();
    return true;
  }

  async #end(): Promise<boolean> {
    await Promise.allSettled(this.#ready);
    const result = combineAnswers(this.#answers, { kind: "sum" });
    for (const bytes of result.body) this.#write(bytes);
    return result.failed;
  }
}
