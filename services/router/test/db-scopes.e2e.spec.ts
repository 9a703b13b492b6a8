// Security (issue 16, item 2): a token for one database cannot query, migrate or re-map another,
// through a real router whose GETs need the read scope, as in a cluster.
import { httpClient } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRouterWorld, type RouterWorld, waitForMap } from "./router-world.ts";

let world: RouterWorld;
let base: string;
const client = (scopes: string[]) => httpClient(base, world.token({ sub: "tenant", scopes }));

beforeAll(async () => {
  world = await createRouterWorld(1, { env: { DBPLANE_ANONYMOUS_READ: "false" } });
  base = (await world.startReplica()).base;
  await world.announce("alpha");
  await world.announce("beta");
  await waitForMap(base, world.token(), "alpha");
  await waitForMap(base, world.token(), "beta");
}, 60_000);
afterAll(() => world?.dispose());

const select = { sql: "SELECT 1 AS one" };
const migration = { id: "001-t", statements: ["CREATE TABLE t (id bigint PRIMARY KEY)"] };

describe("database scopes through the router", () => {
  it("db:alpha:query queries alpha, and cannot query, migrate or re-map beta", async () => {
    const alphaQuery = client(["db:alpha:query"]);
    expect((await alphaQuery.call("POST", "/v1/databases/alpha/query", select)).status).toBe(200);

    const beta = await alphaQuery.call("POST", "/v1/databases/beta/query", select);
    expect(beta.status).toBe(403);
    expect(beta.type).toContain("application/problem+json");
    expect(beta.body).toMatchObject({ code: "FORBIDDEN", scope: "db:beta:query" });
    const operator = httpClient(base, world.token());
    const ranges = (await operator.call("GET", "/v1/databases/beta/shards")).body.ranges;
    for (const [path, body] of [
      ["/v1/databases/beta/migrations", migration],
      ["/v1/databases/beta/shard-map", { expectedVersion: 1, ranges }],
      ["/v1/databases/beta/transaction", { key: { type: "bigint", value: 1 }, statements: [select] }],
    ] as const) {
      const res = await alphaQuery.call("POST", path, body);
      expect(res.status, path).toBe(403);
    }
    // Nor migrate or re-map its own database: that needs db:alpha:admin.
    const own = await alphaQuery.call("POST", "/v1/databases/alpha/migrations", migration);
    expect(own.status).toBe(403);
    expect(own.body.scope).toBe("db:alpha:admin");
    // And the maps stayed where they were.
    expect((await operator.call("GET", "/v1/databases/beta/shards")).body.version).toBe(1);
  });

  it("db:beta:admin migrates and queries beta, and still nothing of alpha", async () => {
    const betaAdmin = client(["db:beta:admin"]);
    const migrated = await betaAdmin.call("POST", "/v1/databases/beta/migrations", migration);
    expect(migrated.status).toBe(200);
    expect((await betaAdmin.call("POST", "/v1/databases/beta/query", select)).status).toBe(200);
    expect((await betaAdmin.call("POST", "/v1/databases/alpha/query", select)).status).toBe(403);
  });

  it("reads need the read scope; without a token 401", async () => {
    expect((await client(["db:alpha:query"]).call("GET", "/v1/databases/alpha/shards")).status).toBe(403);
    expect((await client(["read"]).call("GET", "/v1/databases/alpha/shards")).status).toBe(200);
    const anonymous = await httpClient(base).call("GET", "/v1/databases/alpha/shards");
    expect(anonymous.status).toBe(401);
    expect((await httpClient(base).call("GET", "/health/ready")).status).toBe(200);
  });

  it("lists each route's scope in the OpenAPI document", async () => {
    const doc = (await httpClient(base).call("GET", "/docs/json")).body;
    expect(doc.paths["/v1/databases/{db}/query"].post["x-dbplane-scope"]).toBe("db:{db}:query");
    expect(doc.paths["/v1/databases/{db}/migrations"].post["x-dbplane-scope"]).toBe("db:{db}:admin");
    expect(doc.paths["/v1/databases/{db}/shard-map"].post["x-dbplane-scope"]).toBe("db:{db}:admin");
    expect(doc.paths["/v1/databases/{db}/shards"].get["x-dbplane-scope"]).toBe("read");
  });
});
