// The client batches the wire endpoint passes on whole: which chunks qualify, where a Bind keeps
// its key parameter, and the statement rename that leaves every other byte as the client sent it.
import { parseBind } from "@dbplane/pgwire";
import { serialize } from "pg-protocol";
import { describe, expect, it } from "vitest";
import {
  type BoundParameter,
  findBoundParameter,
  isOneQuery,
  preparedBatchEnd,
  renameBatchStatement,
} from "../src/wire/client-batch.ts";
import { parameterText } from "../src/wire/key-routing.ts";

const bind = (statement: string, values: (string | Buffer | null)[], binary = false) =>
  serialize.bind({ statement, values, ...(binary ? { binary: true } : {}) });
const tail = [serialize.execute({ portal: "", rows: 0 }), serialize.sync()];
const batch = (statement: string, values: (string | Buffer | null)[], describe = true) =>
  Buffer.concat([
    bind(statement, values),
    ...(describe ? [serialize.describe({ type: "P", name: "" })] : []),
    ...tail,
  ]);

describe("preparedBatchEnd", () => {
  it("finds the statement name of Bind, Describe, Execute, Sync (libpq's prepared query) and of Bind, Execute, Sync", () => {
    for (const chunk of [batch("P0_1", ["42"]), batch("P0_1", ["42"], false)]) {
      const end = preparedBatchEnd(chunk);
      expect(chunk.toString("utf8", 6, end)).toBe("P0_1");
    }
  });

  it("refuses a named portal, a Parse first, a missing Sync, a second batch, a statement Describe", () => {
    const named = Buffer.concat([serialize.bind({ portal: "c1", statement: "s" }), ...tail]);
    const parsed = Buffer.concat([serialize.parse({ name: "s", text: "select 1" }), batch("s", [])]);
    const noSync = Buffer.concat([bind("s", []), serialize.execute({ portal: "", rows: 0 })]);
    const twice = Buffer.concat([batch("s", []), batch("s", [])]);
    const describeStatement = Buffer.concat([
      bind("s", []),
      serialize.describe({ type: "S", name: "s" }),
      ...tail,
    ]);
    for (const chunk of [named, parsed, noSync, twice, describeStatement, batch("s", []).subarray(0, 30)]) {
      expect(preparedBatchEnd(chunk)).toBe(-1);
    }
  });
});

describe("findBoundParameter", () => {
  const found = (chunk: Buffer, index: number) => {
    const out: BoundParameter = { start: 0, length: 0, format: 0 };
    if (!findBoundParameter(chunk, preparedBatchEnd(chunk) + 1, index, out)) return undefined;
    return out.length < 0 ? null : parameterText(chunk, out.start, out.length, out.format);
  };

  it("reads text parameters, NULL, and a binary int8 as its decimal text", () => {
    const chunk = batch("s", ["7", null, "-12345678901"]);
    expect([found(chunk, 0), found(chunk, 1), found(chunk, 2)]).toEqual(["7", null, "-12345678901"]);
    const int8 = Buffer.alloc(8);
    int8.writeBigInt64BE(-12345678901n);
    const binary = Buffer.concat([bind("s", [int8], true), ...tail]);
    expect(found(binary, 0)).toBe("-12345678901");
  });

  it("answers false for a parameter the Bind does not have", () => {
    expect(found(batch("s", ["1"]), 1)).toBeUndefined();
  });
});

describe("renameBatchStatement", () => {
  it("renames the Bind's statement and keeps portal, values, formats and the rest of the batch", () => {
    const chunk = batch("P0_1", ["42", null]);
    const out = renameBatchStatement(
      chunk,
      preparedBatchEnd(chunk),
      Buffer.from("dbp_0123456789abcdef01234567\0"),
    );
    const bindLength = out.readInt32BE(1);
    const renamed = parseBind({ type: out[0]!, bytes: out.subarray(0, 1 + bindLength) });
    expect(renamed).toMatchObject({
      portal: "",
      statement: "dbp_0123456789abcdef01234567",
      parameterFormats: [0, 0],
    });
    expect(renamed.parameters.map((p) => p?.toString() ?? null)).toEqual(["42", null]);
    expect(out.subarray(1 + bindLength)).toEqual(chunk.subarray(1 + chunk.readInt32BE(1)));
  });

  it("is the chunk itself when the server's name is the client's", () => {
    const chunk = batch("dbp_x", ["1"]);
    expect(renameBatchStatement(chunk, preparedBatchEnd(chunk), Buffer.from("dbp_x\0"))).toBe(chunk);
  });
});

describe("isOneQuery", () => {
  it("is one whole Query message and nothing else", () => {
    const query = serialize.query("select 1");
    expect(isOneQuery(query)).toBe(true);
    expect(isOneQuery(Buffer.concat([query, query]))).toBe(false);
    expect(isOneQuery(query.subarray(0, query.length - 1))).toBe(false);
    expect(isOneQuery(serialize.sync())).toBe(false);
  });
});
