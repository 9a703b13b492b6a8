import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../src/index.ts";

function capture() {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  return {
    stream,
    lines: () =>
      text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe("createLogger", () => {
  it("writes JSON lines with the service name and level", () => {
    const out = capture();
    const logger = createLogger({ name: "svc", level: "debug", destination: out.stream });
    logger.debug({ shard: 3 }, "hello");
    expect(out.lines()[0]).toMatchObject({ name: "svc", level: 20, shard: 3, msg: "hello" });
  });

  it("redacts authorization headers, passwords, secrets and tokens", () => {
    const out = capture();
    const logger = createLogger({ name: "svc", destination: out.stream });
    logger.info(
      {
        req: { headers: { authorization: "Bearer abc.def.ghi" } },
        password: "pw-top-level",
        db: { password: "pw-nested", secret: "s-nested", token: "t-nested" },
        config: { DBPLANE_JWT_SECRET: "jwt-secret-value" },
      },
      "connecting",
    );
    const line = JSON.stringify(out.lines()[0]);
    for (const secret of [
      "abc.def.ghi",
      "pw-top-level",
      "pw-nested",
      "s-nested",
      "t-nested",
      "jwt-secret-value",
    ]) {
      expect(line).not.toContain(secret);
    }
    expect(line).toContain("[redacted]");
  });
});
