import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { BEARER_SCHEME, createHttpApp, createLogger, type HttpApp } from "../src/index.ts";

let app: HttpApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

type Operation = {
  security?: Record<string, string[]>[];
  requestBody?: unknown;
  "x-dbplane-scope"?: string;
};
type OpenApi = {
  openapi: string;
  components: { securitySchemes: Record<string, unknown> };
  paths: Record<string, Record<string, Operation>>;
};

describe("OpenAPI docs", () => {
  it("serves Swagger UI and an OpenAPI 3 document with bearer security and the scope of every /v1 route", async () => {
    app = await createHttpApp({
      name: "docs-svc",
      version: "0.1.0",
      logger: createLogger({ name: "docs", level: "silent" }),
      jwtSecret: "a-test-secret-that-is-long-enough-0123456789",
    });
    const body = z.object({ name: z.string(), shards: z.number().int() });
    app.get("/v1/databases", async () => []);
    app.post("/v1/databases", { schema: { body } }, async () => ({}));
    app.put("/v1/databases/:name", { schema: { body } }, async () => ({}));
    app.patch("/v1/databases/:name", async () => ({}));
    app.delete("/v1/databases/:name", { config: { scope: "db:{name}:admin" } }, async () => ({}));
    app.post("/v1/hooks", { config: { public: true } }, async () => ({}));

    const ui = await app.inject({ url: "/docs" });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain("swagger");

    const res = await app.inject({ url: "/docs/json" });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as OpenApi;
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes[BEARER_SCHEME]).toEqual({
      type: "http",
      scheme: "bearer",
      bearerFormat: "JWT",
    });
    const bearer = [{ [BEARER_SCHEME]: [] }];
    const item = doc.paths["/v1/databases/{name}"]!;
    expect(doc.paths["/v1/databases"]!.post!.security).toEqual(bearer);
    expect(item.put!.security).toEqual(bearer);
    expect(item.patch!.security).toEqual(bearer);
    expect(item.delete!.security).toEqual(bearer);
    expect(doc.paths["/v1/databases"]!.post!.requestBody).toMatchObject({
      content: { "application/json": { schema: { required: ["name", "shards"] } } },
    });

    expect(doc.paths["/v1/databases"]!.post!["x-dbplane-scope"]).toBe("admin");
    expect(item.delete!["x-dbplane-scope"]).toBe("db:{name}:admin");
    expect(doc.paths["/v1/databases"]!.get!.security).toEqual(bearer);
    expect(doc.paths["/v1/databases"]!.get!["x-dbplane-scope"]).toBe("read");
    expect(doc.paths["/v1/hooks"]!.post!.security).toBeUndefined();
    expect(doc.paths["/health/ready"]!.get!.security).toBeUndefined();
    expect(doc.paths["/health/ready"]!.get!["x-dbplane-scope"]).toBeUndefined();
    expect(Object.keys(doc.paths).some((path) => path.startsWith("/docs"))).toBe(false);
  });
});
