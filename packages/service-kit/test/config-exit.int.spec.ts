import { fileURLToPath } from "node:url";
import { type ChildService, startChildService } from "@dbplane/testkit";
import { afterEach, describe, expect, it } from "vitest";

const entry = fileURLToPath(new URL("./fixtures/config-fixture.ts", import.meta.url));
let child: ChildService | undefined;
afterEach(async () => {
  await child?.dispose();
  child = undefined;
});

describe("loadConfig in a real process", () => {
  it("exits 78 naming every bad variable on stderr, and no secret value", async () => {
    child = await startChildService({
      entry,
      name: "config-fixture",
      env: {
        DBPLANE_HTTP_PORT: "not-a-port",
        DBPLANE_LOG_LEVEL: "chatty",
        DBPLANE_JWT_SECRET: "short-s3cret-value",
        DBPLANE_SHUTDOWN_DELAY_MS: "-5",
        DBPLANE_PG_URL: undefined,
        DBPLANE_REDIS_URL: "http://default:redis-pa55word@cache:6379",
        DBPLANE_FIXTURE_VERBOSE: "sometimes",
      },
    });
    expect(await child.exited).toBe(78);
    const output = child.output();
    for (const variable of [
      "DBPLANE_HTTP_PORT",
      "DBPLANE_LOG_LEVEL",
      "DBPLANE_JWT_SECRET",
      "DBPLANE_SHUTDOWN_DELAY_MS",
      "DBPLANE_PG_URL",
      "DBPLANE_REDIS_URL",
      "DBPLANE_FIXTURE_VERBOSE",
    ]) {
      expect(output).toContain(variable);
    }
    expect(output).toContain("7 problems");
    expect(output).not.toContain("short-s3cret-value");
    expect(output).not.toContain("redis-pa55word");
    expect(output).not.toContain("config ok");
  });

  it("starts normally when the environment is right", async () => {
    child = await startChildService({
      entry,
      env: {
        DBPLANE_HTTP_PORT: "7999",
        DBPLANE_JWT_SECRET: "a-secret-of-at-least-32-characters-long",
        DBPLANE_PG_URL: "postgres://postgres@127.0.0.1:5432/postgres",
        DBPLANE_REDIS_URL: "redis://127.0.0.1:6379",
      },
    });
    expect(await child.exited).toBe(0);
    expect(child.logs()).toContainEqual({ msg: "config ok", port: 7999 });
  });
});
