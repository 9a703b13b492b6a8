// Issue 16, item 8: `rediss://` to a Redis whose certificate a private CA issued
// (DBPLANE_REDIS_TLS_CA), against a private redis-server started with TLS on a spare port.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, makeTestCa, type TestCa } from "@dbplane/testkit";
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisTlsConfigError, redisClient } from "../../src/index.ts";

let trusted: TestCa;
let other: TestCa;
let server: ChildProcess;
let dir: string;
let port: number;
const logger = pino({ level: "silent" });

beforeAll(async () => {
  [trusted, other] = await Promise.all([makeTestCa(), makeTestCa()]);
  const cert = await trusted.issue("redis");
  dir = await mkdtemp(join(tmpdir(), "dbplane-redis-tls-"));
  port = await freePort();
  server = spawn(
    "redis-server",
    [
      "--port",
      "0",
      "--tls-port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--tls-cert-file",
      cert.certPath,
      "--tls-key-file",
      cert.keyPath,
      "--tls-auth-clients",
      "no",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  // Ready when it says so; an exit first (no TLS support, port taken) fails the suite.
  await new Promise<void>((resolve, reject) => {
    let output = "";
    server.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Ready to accept connections")) resolve();
    });
    server.once("exit", (code) =>
      reject(new Error(`redis-server exited with ${code}: ${output.slice(-500)}`)),
    );
  });
}, 30_000);
afterAll(async () => {
  if (server?.exitCode === null) {
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.kill("SIGTERM");
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
  await Promise.all([trusted?.remove(), other?.remove()]);
});

describe("Redis over rediss:// with a private CA", () => {
  it("connects through the kit's client when the CA issued the server's certificate", async () => {
    const redis = await redisClient(
      { DBPLANE_REDIS_URL: `rediss://127.0.0.1:${port}`, DBPLANE_REDIS_TLS_CA: trusted.certPath },
      { logger },
    );
    try {
      expect(await redis.ping()).toBe("PONG");
      await redis.set("dbplane:tls-test", "over tls");
      expect(await redis.get("dbplane:tls-test")).toBe("over tls");
    } finally {
      redis.disconnect();
    }
  });

  it("refuses the server when the CA is another one (the logged reason: its certificate)", async () => {
    const logged: string[] = [];
    const recording = pino({ level: "warn" }, { write: (line: string) => logged.push(line) });
    const connecting = redisClient(
      { DBPLANE_REDIS_URL: `rediss://127.0.0.1:${port}`, DBPLANE_REDIS_TLS_CA: other.certPath },
      { logger: recording },
    );
    // ioredis rejects with "Connection is closed."; the TLS error itself goes to its error event.
    await expect(connecting).rejects.toThrow();
    expect(logged.join("\n")).toMatch(/self.signed|unable to verify|certificate/i);
  });

  it("a plain-text client gets nothing from the TLS port", async () => {
    const plain = new Redis(`redis://127.0.0.1:${port}`, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 2_000,
    });
    plain.on("error", () => {});
    await expect(plain.connect().then(() => plain.ping())).rejects.toThrow();
    plain.disconnect();
  });

  it("a CA with a plain-text URL is a configuration error, not a silent downgrade", async () => {
    await expect(
      redisClient(
        { DBPLANE_REDIS_URL: `redis://127.0.0.1:${port}`, DBPLANE_REDIS_TLS_CA: trusted.certPath },
        { logger },
      ),
    ).rejects.toThrow(RedisTlsConfigError);
  });
});
