import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { signTestToken } from "@dbplane/testkit";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { createHttpApp, createLogger, grants, type HttpApp, type TokenPolicy } from "../src/index.ts";

const SECRET = "a-test-secret-that-is-long-enough-0123456789";

let cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.map((c) => c()));
  cleanups = [];
});

/** A service with the router's and the provisioner's shapes of routes. */
async function givenApp(tokens: Omit<TokenPolicy, "secret"> = {}): Promise<HttpApp> {
  const app = await createHttpApp({
    name: "scopes-svc",
    version: "1",
    logger: createLogger({ name: "scopes", level: "silent" }),
    jwtSecret: SECRET,
    tokens,
  });
  const ok = async (request: { principal: unknown }) => ({ ok: true, principal: request.principal });
  app.post("/v1/databases/:db/query", { config: { scope: "db:{db}:query" } }, ok);
  app.post("/v1/databases/:db/migrations", { config: { scope: "db:{db}:admin" } }, ok);
  app.post("/v1/databases/:db/shard-map", { config: { scope: "db:{db}:admin" } }, ok);
  app.post("/v1/databases", ok);
  app.get("/v1/databases/:db/shards", ok);
  cleanups.push(() => app.close());
  return app;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const token = (scopes: string[], claims: Record<string, unknown> = {}) =>
  signTestToken(SECRET, { sub: "alice", scopes, claims });

async function post(app: HttpApp, url: string, auth: string) {
  return app.inject({ method: "POST", url, headers: bearer(auth), payload: {} });
}

describe("claims every token must carry", () => {
  it("refuses a token without exp, which would never expire", async () => {
    const app = await givenApp();
    const forever = signTestToken(SECRET, { scopes: ["admin"], expiresIn: null });
    const res = await post(app, "/v1/databases/a/query", forever);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: "UNAUTHORIZED", detail: "bearer token is invalid" });
  });

  it("refuses a token of another issuer or audience once they are configured", async () => {
    const app = await givenApp({ issuer: "https://idp.example", audience: "dbplane" });
    const right = { iss: "https://idp.example", aud: "dbplane" };
    expect((await post(app, "/v1/databases", token(["admin"], right))).statusCode).toBe(200);
    for (const claims of [
      { ...right, iss: "https://evil.example" },
      { ...right, aud: "another-app" },
      { aud: "dbplane" },
      { iss: "https://idp.example" },
    ]) {
      expect((await post(app, "/v1/databases", token(["admin"], claims))).statusCode).toBe(401);
    }
  });
});

describe("scopes", () => {
  it("lets db:a:query query database a, and nothing of database b", async () => {
    const app = await givenApp();
    const queryA = token(["db:a:query"]);
    expect((await post(app, "/v1/databases/a/query", queryA)).statusCode).toBe(200);
    for (const url of ["/v1/databases/b/query", "/v1/databases/b/migrations", "/v1/databases/b/shard-map"]) {
      const res = await post(app, url, queryA);
      expect(res.statusCode).toBe(403);
    }
    const res = await post(app, "/v1/databases/b/query", queryA);
    expect(res.headers["content-type"]).toContain("application/problem+json");
    expect(res.json()).toMatchObject({
      status: 403,
      code: "FORBIDDEN",
      scope: "db:b:query",
      detail: 'this operation needs the scope "db:b:query"',
    });
    expect(res.headers["www-authenticate"]).toBe(
      'Bearer realm="dbplane", error="insufficient_scope", scope="db:b:query"',
    );
  });

  it("keeps migrating and re-mapping database a for db:a:admin, which may also query it", async () => {
    const app = await givenApp();
    const queryA = token(["db:a:query"]);
    expect((await post(app, "/v1/databases/a/migrations", queryA)).json()).toMatchObject({
      scope: "db:a:admin",
    });
    expect((await post(app, "/v1/databases/a/shard-map", queryA)).statusCode).toBe(403);
    const adminA = token(["db:a:admin"]);
    for (const url of ["/v1/databases/a/query", "/v1/databases/a/migrations", "/v1/databases/a/shard-map"]) {
      expect((await post(app, url, adminA)).statusCode).toBe(200);
    }
    expect((await post(app, "/v1/databases/b/migrations", adminA)).statusCode).toBe(403);
  });

  it("gives a mutating route that declares nothing to admin only", async () => {
    const app = await givenApp();
    expect((await post(app, "/v1/databases", token(["db:a:admin", "read", "jobs:write"]))).statusCode).toBe(
      403,
    );
    expect((await post(app, "/v1/databases", token(["admin"]))).statusCode).toBe(200);
  });

  it("never widens a scope through a database name", async () => {
    const app = await givenApp();
    const tricky = token(["db:a:admin"]);
    for (const db of ["a:admin", "a%20admin", "*", "a:query"]) {
      expect((await post(app, `/v1/databases/${db}/query`, tricky)).statusCode).toBe(403);
    }
    expect(grants(["db:*:admin"], "db:a:query")).toBe(false);
    expect(grants(["read"], "db:a:query")).toBe(false);
  });

  it("reads the scope claim as a string or as an array", async () => {
    const app = await givenApp();
    const none = signTestToken(SECRET, { scopes: [] });
    expect((await post(app, "/v1/databases/a/query", none)).statusCode).toBe(403);
    const res = await app.inject({
      method: "POST",
      url: "/v1/databases/a/query",
      headers: bearer(
        await new SignJWT({ scope: ["read", "db:a:query"] })
          .setProtectedHeader({ alg: "HS256" })
          .setSubject("alice")
          .setExpirationTime("5m")
          .sign(new TextEncoder().encode(SECRET)),
      ),
      payload: {},
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().principal.scopes).toEqual(["read", "db:a:query"]);
  });

  it("refuses at start a scope that names no path parameter of its route", async () => {
    const app = await givenApp();
    expect(() =>
      app.post("/v1/things/:id", { config: { scope: "db:{db}:query" } }, async () => ({})),
    ).toThrow(/names \{db\}, not a path parameter/);
  });
});

describe("reads", () => {
  it("need the read scope, unless anonymous read is on", async () => {
    const closed = await givenApp();
    const url = "/v1/databases/a/shards";
    expect((await closed.inject({ url })).statusCode).toBe(401);
    expect((await closed.inject({ url, headers: bearer(token(["db:a:query"])) })).statusCode).toBe(403);
    expect((await closed.inject({ url, headers: bearer(token(["read"])) })).statusCode).toBe(200);
    expect((await closed.inject({ url: "/health/ready" })).statusCode).toBe(200);
    expect((await closed.inject({ url: "/docs/json" })).statusCode).toBe(200);

    const open = await givenApp({ anonymousRead: true });
    expect((await open.inject({ url })).statusCode).toBe(200);
    expect(
      (await open.inject({ method: "POST", url: "/v1/databases/a/query", payload: {} })).statusCode,
    ).toBe(401);
  });
});

/** A JWKS endpoint like an identity provider's, on a free port of 127.0.0.1. */
async function jwksServer(jwks: object): Promise<string> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
}

describe("tokens of an identity provider", () => {
  it("verifies RS256 tokens against a JWKS, scopes and all, and still the shared-secret ones", async () => {
    const { privateKey, publicKey } = await generateKeyPair("RS256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "idp-1", alg: "RS256", use: "sig" };
    const jwksUrl = await jwksServer({ keys: [jwk] });
    const app = await givenApp({ jwksUrl, issuer: "https://idp.example" });
    const idpToken = (scope: string, kid = "idp-1") =>
      new SignJWT({ scope })
        .setProtectedHeader({ alg: "RS256", kid })
        .setSubject("carol")
        .setIssuer("https://idp.example")
        .setExpirationTime("5m")
        .sign(privateKey);

    expect((await post(app, "/v1/databases/a/query", await idpToken("db:a:query"))).statusCode).toBe(200);
    expect((await post(app, "/v1/databases/b/query", await idpToken("db:a:query"))).statusCode).toBe(403);
    expect((await post(app, "/v1/databases/a/query", await idpToken("db:a:query", "other"))).statusCode).toBe(
      401,
    );
    const hs = token(["db:a:query"], { iss: "https://idp.example" });
    expect((await post(app, "/v1/databases/a/query", hs)).statusCode).toBe(200);

    const { privateKey: stranger } = await generateKeyPair("RS256");
    const forged = await new SignJWT({ scope: "admin" })
      .setProtectedHeader({ alg: "RS256", kid: "idp-1" })
      .setSubject("mallory")
      .setIssuer("https://idp.example")
      .setExpirationTime("5m")
      .sign(stranger);
    expect((await post(app, "/v1/databases", forged)).statusCode).toBe(401);
  });

  it("verifies EdDSA tokens against one configured public key", async () => {
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const app = await givenApp({ publicKey: await exportSPKI(publicKey) });
    const signed = await new SignJWT({ scope: "admin" })
      .setProtectedHeader({ alg: "EdDSA" })
      .setSubject("dave")
      .setExpirationTime("5m")
      .sign(privateKey);
    expect((await post(app, "/v1/databases", signed)).statusCode).toBe(200);
    const noExp = await new SignJWT({ scope: "admin" })
      .setProtectedHeader({ alg: "EdDSA" })
      .setSubject("dave")
      .sign(privateKey);
    expect((await post(app, "/v1/databases", noExp)).statusCode).toBe(401);
  });
});
