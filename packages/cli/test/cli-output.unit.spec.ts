import { describe, expect, it } from "vitest";
import { problemLine } from "../src/cli-error.ts";
import { keyspaceBar } from "../src/keyspace-bar.ts";
import { progressLine } from "../src/progress-line.ts";

/** A stream that records what was written, as a terminal or as a pipe. */
function recorder(isTTY: boolean) {
  const writes: string[] = [];
  const stream = { isTTY, write: (text: string) => writes.push(text) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, writes };
}

describe("keyspaceBar", () => {
  it("draws each shard over the share of the keyspace it owns, and a gap where none does", () => {
    const half = [
      { shard: 0, ranges: [{ from: (-(2n ** 63n)).toString(), to: "0" }] },
      { shard: 1, ranges: [{ from: (2n ** 62n).toString(), to: (2n ** 63n).toString() }] },
    ];
    expect(keyspaceBar(half, 8).split("\n")[0]).toBe("keyspace |0000··11|");
  });
});

describe("problemLine", () => {
  it("puts a problem with several fields on one line, whatever newlines the server sent", () => {
    const line = problemLine(
      "provisioner",
      400,
      {
        title: "Bad Request",
        detail: "body validation\nfailed",
        errors: [
          { field: "body.name", message: "Invalid" },
          { field: "body.shards", message: "Too big" },
        ],
      },
      "",
    );
    expect(line).toBe(
      "provisioner: 400 Bad Request: body validation failed (body.name: Invalid; body.shards: Too big)",
    );
  });
});

describe("progressLine", () => {
  it("writes a line per change and no control characters when not on a terminal", () => {
    const { stream, writes } = recorder(false);
    const progress = progressLine(stream);
    progress.update("create a: provisioning");
    progress.update("create a: provisioning");
    progress.update("create a: ready");
    progress.done(true, "create a: succeeded");
    expect(writes).toEqual(["create a: provisioning\n", "create a: ready\n", "done: create a: succeeded\n"]);
  });

  it("redraws one line in place on a terminal and ends it with a mark", () => {
    const { stream, writes } = recorder(true);
    const progress = progressLine(stream);
    progress.update("create a: provisioning");
    progress.done(false, "create a: failed");
    expect(writes[0]?.startsWith("\r\x1b[2K")).toBe(true);
    expect(writes[0]?.endsWith(" create a: provisioning")).toBe(true);
    expect(writes.at(-1)?.endsWith("✖\x1b[0m create a: failed\n")).toBe(true);
  });
});
