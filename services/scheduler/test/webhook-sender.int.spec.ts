import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webhookAgents } from "../src/delivery/webhook-destination.ts";
import { sendWebhook } from "../src/delivery/webhook-sender.ts";
import {
  emptyAllowList,
  parseWebhookAllowList,
  type WebhookAllowList,
} from "../src/domain/webhook-allow-list.ts";

// Each attempt checks the addresses it actually connects to (a name resolved at the
// connection, not only when the job was saved): `localhost` is a name, so this is the check that
// a DNS-rebound name meets.
let port: number;
let hits = 0;
const server = createServer((_req, res) => {
  hits++;
  res.writeHead(204).end();
});
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function attempt(list: WebhookAllowList, host: string) {
  const agents = webhookAgents(list);
  try {
    return await sendWebhook(
      { url: `http://${host}:${port}/hook`, method: "POST", headers: {}, body: undefined },
      { allowList: list, agents, timeoutMs: 5_000, stop: new AbortController().signal },
    );
  } finally {
    await agents.close();
  }
}

describe("a webhook attempt's address check", () => {
  it("refuses a name that resolves to loopback at connection time, and sends nothing", async () => {
    const before = hits;
    const sent = await attempt(emptyAllowList, "localhost");
    expect(sent.result).toMatchObject({ kind: "refused" });
    expect(sent.result.kind === "refused" && sent.result.message).toMatch(/localhost resolves to .*loopback/);
    expect(await attempt(emptyAllowList, "127.0.0.1")).toMatchObject({ result: { kind: "refused" } });
    expect(hits).toBe(before);
  });

  it("lets through a listed range, or a listed name", async () => {
    const byRange = parseWebhookAllowList("127.0.0.0/8,::1") as WebhookAllowList;
    expect((await attempt(byRange, "localhost")).result).toEqual({ kind: "response", status: 204 });
    const byName = parseWebhookAllowList("localhost") as WebhookAllowList;
    expect((await attempt(byName, "localhost")).result).toEqual({ kind: "response", status: 204 });
  });
});
