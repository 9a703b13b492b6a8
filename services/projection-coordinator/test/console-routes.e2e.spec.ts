import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { databaseDiscovered } from "@dbplane/contracts";
import { freePort, waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CoordinatorWorld, createCoordinatorWorld, type Replica } from "./coordinator-world.ts";

/** Reads a Server-Sent Events response as it arrives: the messages so far. */
function sseMessages(res: Response): { messages: { event: string; data: unknown }[] } {
  const state = { messages: [] as { event: string; data: unknown }[] };
  void (async () => {
    let buffer = "";
    for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) state.messages.push({ event, data: JSON.parse(data) });
      }
    }
  })().catch(() => {});
  return state;
}

describe("console routes: static shell, live stream, proxy", () => {
  let world: CoordinatorWorld;
  /** Anonymous reads off: the stream and the proxy need a token. */
  let strict: Replica;
  /** Anonymous reads on (as ./scripts/dev): a mutating proxied call still needs a token. */
  let devLike: Replica;
  let upstream: Server;
  const seen: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[] = [];

  beforeAll(async () => {
    // A plain HTTP server standing in for another service: records what the proxy sent.
    upstream = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => {
        body += chunk;
      });
      req.on("end", () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        res.writeHead(201, { "content-type": "application/json", location: "/v1/jobs/j1" });
        res.end(JSON.stringify({ id: "j1" }));
      });
    });
    upstream.listen(0, "127.0.0.1");
    await once(upstream, "listening");
    const scheduler = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const nobody = `http://127.0.0.1:${await freePort()}`;
    world = await createCoordinatorWorld();
    const env = {
      DBPLANE_PROJECTIONS: "fleet,audit",
      DBPLANE_SCHEDULER_URL: scheduler,
      DBPLANE_ROUTER_URL: nobody,
    };
    [strict, devLike] = await Promise.all([
      world.startReplica({ env: { ...env, DBPLANE_ANONYMOUS_READ: "false" } }),
      world.startReplica({ env }),
    ]);
  });
  afterAll(async () => {
    await world?.dispose();
    upstream?.close();
  });

  it("serves the shell publicly with a strict Content-Security-Policy, and /console redirects to it", async () => {
    const shell = await fetch(`${strict.base}/console/`);
    expect(shell.status).toBe(200);
    expect(shell.headers.get("content-type")).toContain("text/html");
    expect(shell.headers.get("content-security-policy")).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    expect(shell.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await shell.text();
    expect(html).toContain('<script type="module" src="app.js"></script>');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    const lit = await fetch(`${strict.base}/console/vendor/lit-html/lit-html.js`);
    expect(lit.status).toBe(200);
    expect(lit.headers.get("content-type")).toContain("javascript");
    const redirect = await fetch(`${strict.base}/console`, { redirect: "manual" });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get("location")).toBe("/console/");
  });

  it("streams read-model changes to a token with `read`, and refuses the stream without one", async () => {
    const refused = await fetch(`${strict.base}/v1/console/events`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("content-type")).toContain("application/problem+json");

    const controller = new AbortController();
    const res = await fetch(`${strict.base}/v1/console/events`, {
      headers: { authorization: `Bearer ${world.token({ scopes: ["read"] })}` },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const stream = sseMessages(res);
    await waitFor(() => stream.messages.some((m) => m.event === "ready"), { what: "ready" });
    const found = "local:127.0.0.1:5432/console-live";
    await world.publish(
      databaseDiscovered,
      {
        id: found,
        driver: "local",
        engine: "postgresql",
        endpoint: { host: "127.0.0.1", port: 5432 },
        dbname: "console-live",
        observedAt: new Date().toISOString(),
      },
      { subject: found },
    );
    const change = await waitFor(
      () =>
        stream.messages.find(
          (m) => m.event === "change" && (m.data as { models: string[] }).models.includes("fleet"),
        ),
      { timeoutMs: 30_000, what: "a fleet change on the stream" },
    );
    expect((change.data as { types: string[] }).types).toContain(databaseDiscovered.type);
    // The stream says so only once the read model shows it.
    const fleet = (await (await fetch(`${devLike.base}/v1/fleet`)).json()) as { databases: { id: string }[] };
    expect(fleet.databases.map((d) => d.id)).toContain(found);
    controller.abort();
  });

  it("reads the audit log newest first for the console, paging back in time", async () => {
    const subjects = ["local:127.0.0.1:5432/audit-a", "local:127.0.0.1:5432/audit-b"];
    for (const [i, id] of subjects.entries()) {
      await world.publish(
        databaseDiscovered,
        {
          id,
          driver: "local",
          engine: "postgresql",
          endpoint: { host: "127.0.0.1", port: 5432 },
          dbname: `audit-${i}`,
          observedAt: new Date().toISOString(),
        },
        { subject: id },
      );
    }
    type Page = { items: { subject: string }[]; nextCursor: string | null };
    const read = async (query: string) =>
      (await (
        await fetch(`${devLike.base}/v1/audit?type=${databaseDiscovered.type}&${query}`)
      ).json()) as Page;
    await waitFor(
      async () => {
        const seen = (await read("limit=100")).items.map((e) => e.subject);
        return subjects.every((s) => seen.includes(s));
      },
      { what: "both events in the audit log" },
    );
    const newest = await read("order=desc&limit=1");
    expect(newest.items.map((e) => e.subject)).toEqual([subjects[1]]);
    const before = await read(`order=desc&limit=1&cursor=${newest.nextCursor}`);
    expect(before.items.map((e) => e.subject)).toEqual([subjects[0]]);
    const bad = await fetch(`${devLike.base}/v1/audit?order=sideways`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("order");
  });

  it("ends a stream when its token expires", async () => {
    const res = await fetch(`${strict.base}/v1/console/events`, {
      headers: { authorization: `Bearer ${world.token({ scopes: ["read"], expiresIn: 2 })}` },
    });
    expect(res.status).toBe(200);
    // Reading to the end returns only because the server ends the stream at the token's exp.
    const text = await res.text();
    expect(text).toContain("event: ready");
  });

  it("proxies to the other services with the caller's token, and checks before forwarding", async () => {
    const token = world.token({ scopes: ["read", "jobs:write"] });
    const created = await fetch(`${strict.base}/console/api/scheduler/jobs?dryRun=1`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", cookie: "a=b" },
      body: JSON.stringify({ id: "j1" }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe("/v1/jobs/j1");
    expect(await created.json()).toEqual({ id: "j1" });
    expect(seen.at(-1)).toMatchObject({ method: "POST", url: "/v1/jobs?dryRun=1", body: '{"id":"j1"}' });
    expect(seen.at(-1)!.headers.authorization).toBe(`Bearer ${token}`);
    expect(seen.at(-1)!.headers.cookie).toBeUndefined();

    const before = seen.length;
    // Anonymous reads on, and still: a mutating call without a token never leaves.
    const anonymous = await fetch(`${devLike.base}/console/api/scheduler/jobs/j1/pause`, { method: "POST" });
    expect(anonymous.status).toBe(401);
    expect((await fetch(`${strict.base}/console/api/scheduler/jobs`)).status).toBe(401);
    expect(seen.length).toBe(before);

    const auth = { authorization: `Bearer ${token}` };
    const unknown = await fetch(`${strict.base}/console/api/nope/jobs`, { headers: auth });
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain("params.service");
    const down = await fetch(`${strict.base}/console/api/router/databases`, { headers: auth });
    expect(down.status).toBe(502);
    expect(await down.json()).toMatchObject({ detail: "the router did not answer" });
  });
});
