import { PassThrough } from "node:stream";
import { testServerUrls } from "@dbplane/testkit";
import { describe, expect, it } from "vitest";
import {
  createLogger,
  jwtSecretOrRandom,
  MIN_JWT_SECRET_LENGTH,
  platformPool,
  poolReadiness,
  redisClient,
  replicaId,
  serviceProcess,
  serviceVersion,
} from "../src/index.ts";

const logger = createLogger({ name: "wiring", level: "silent", destination: new PassThrough() });

describe("service wiring", () => {
  it("opens the platform pool named after the service, with the given session settings", async () => {
    const pool = platformPool(
      { DBPLANE_PG_URL: testServerUrls().postgres, DBPLANE_PG_POOL_SIZE: 2 },
      { name: "wiring-test", logger, statement_timeout: 1_234 },
    );
    try {
      const { rows } = await pool.query<{ app: string; timeout: string }>(
        "SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS timeout",
      );
      expect(rows[0]).toEqual({ app: "dbplane-wiring-test", timeout: "1234ms" });
      expect(pool.options.max).toBe(2);
      // An idle connection's failure reaches the pool as an event; heard, it does not throw.
      expect(pool.listenerCount("error")).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it("connects to Redis before handing the client out", async () => {
    const redis = await redisClient({ DBPLANE_REDIS_URL: testServerUrls().redis }, { logger });
    try {
      expect(redis.status).toBe("ready");
      expect(await redis.ping()).toBe("PONG");
    } finally {
      await redis.quit();
    }
  });

  it("names the replica, reads the service version, and makes a random key when none is set", () => {
    expect(replicaId()).toMatch(/^[^:]+:\d+:[0-9a-f]{8}$/);
    expect(replicaId()).not.toBe(replicaId());
    expect(serviceVersion(new URL("../package.json", import.meta.url))).toMatch(/^\d+\.\d+\.\d+/);
    expect(() => serviceVersion(new URL("./fixtures/no-such-package.json", import.meta.url))).toThrow();
    const random = jwtSecretOrRandom(undefined);
    expect(random.length).toBeGreaterThanOrEqual(MIN_JWT_SECRET_LENGTH);
    expect(jwtSecretOrRandom(undefined)).not.toBe(random);
    expect(jwtSecretOrRandom("configured")).toBe("configured");
  });

  it("binds a service's name, config and version, and adds the app's readiness checks", async () => {
    const service = serviceProcess(
      "wiring-test",
      {
        DBPLANE_HTTP_HOST: "127.0.0.1",
        DBPLANE_HTTP_PORT: 0,
        DBPLANE_HTTP_MAX_EVENT_LOOP_DELAY_MS: 1_000,
        DBPLANE_SHUTDOWN_DELAY_MS: 0,
        DBPLANE_SHUTDOWN_TIMEOUT_MS: 1_000,
        DBPLANE_LOG_LEVEL: "silent",
        DBPLANE_NATS_URL: testServerUrls().nats,
        DBPLANE_STREAM_REPLICAS: 1,
        DBPLANE_STREAM_MAX_BYTES: 64 * 1024 * 1024,
        DBPLANE_PG_URL: testServerUrls().postgres,
        DBPLANE_PG_POOL_SIZE: 1,
      },
      import.meta.url,
    );
    const pool = service.platformPool();
    const app = await service.httpApp({ postgres: poolReadiness(pool) });
    try {
      expect(pool.options.application_name).toBe("dbplane-wiring-test");
      const ready = await app.inject({ method: "GET", url: "/health/ready" });
      expect(ready.json()).toMatchObject({ checks: { postgres: "ok" } });
      const metrics = await app.inject({ method: "GET", url: "/metrics" });
      const version = serviceVersion(new URL("../package.json", import.meta.url));
      expect(metrics.body).toContain(`service="wiring-test",version="${version}"`);
    } finally {
      await app.close();
      await pool.end();
    }
  });
});
