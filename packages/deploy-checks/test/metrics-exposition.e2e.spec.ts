import { readFileSync } from "node:fs";
import { join } from "node:path";
import { checkMetricsExposition, discoverServiceFolders, REPO_ROOT } from "@dbplane/deploy-checks";
import {
  type ChildService,
  createTestDatabase,
  createTestNats,
  createTestRedis,
  freePort,
  startChildService,
  type TestDatabase,
  type TestNats,
  type TestRedis,
} from "@dbplane/testkit";
import { afterEach, describe, expect, it } from "vitest";

/** Per-service env that isolates a test run beyond the shared NATS/PostgreSQL/Redis ones. */
const ISOLATION: Record<string, (redis: TestRedis) => Record<string, string>> = {
  router: (redis) => ({ DBPLANE_ROUTER_REDIS_PREFIX: redis.prefix }),
};

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

describe("promtool check metrics on each running service's /metrics", () => {
  it.each(discoverServiceFolders(REPO_ROOT).map((s) => s.name))("%s", async (name) => {
    const nats: TestNats = await createTestNats();
    cleanups.push(() => nats.cleanup());
    const database: TestDatabase = await createTestDatabase("deploy");
    cleanups.push(() => database.drop());
    const redis: TestRedis = await createTestRedis();
    cleanups.push(() => redis.cleanup());
    const port = await freePort();
    const service: ChildService = await startChildService({
      name,
      entry: join(REPO_ROOT, "services", name, "src/main.ts"),
      env: {
        DBPLANE_HTTP_HOST: "127.0.0.1",
        DBPLANE_HTTP_PORT: String(port),
        DBPLANE_LOG_LEVEL: "warn",
        DBPLANE_JWT_SECRET: "deploy-checks-test-secret-of-32-characters",
        DBPLANE_NATS_URL: nats.url,
        DBPLANE_NATS_NAMESPACE: nats.namespace,
        DBPLANE_PG_URL: database.url,
        DBPLANE_REDIS_URL: redis.url,
        DBPLANE_SHUTDOWN_DELAY_MS: "0",
        ...ISOLATION[name]?.(redis),
      },
      readyUrl: `http://127.0.0.1:${port}/health/ready`,
    });
    cleanups.push(async () => {
      service.kill("SIGTERM");
      await service.exited;
    });

    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    // The version label is the service's own package.json version, not a constant.
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, "services", name, "package.json"), "utf8"));
    expect(text).toContain(`dbplane_service_info{service="${name}",version="${version}"} 1`);
    expect(checkMetricsExposition(text)).toEqual([]);
  });
});
