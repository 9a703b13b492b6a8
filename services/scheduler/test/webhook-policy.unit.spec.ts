import { describe, expect, it } from "vitest";
import { webhookRequest } from "../src/delivery/webhook-request.ts";
import { judgeAttempt, retryDelayMs } from "../src/domain/delivery-policy.ts";
import type { HttpTarget } from "../src/domain/job-definition.ts";
import { parseJobDefinition } from "../src/domain/job-validation.ts";
import {
  addressProblem,
  emptyAllowList,
  hostAllowed,
  parseWebhookAllowList,
  type WebhookAllowList,
} from "../src/domain/webhook-allow-list.ts";

function allow(text: string): WebhookAllowList {
  const list = parseWebhookAllowList(text);
  if (typeof list === "string") throw new Error(list);
  return list;
}

describe("webhook allow-list", () => {
  it("by default allows public addresses only", () => {
    expect(addressProblem(emptyAllowList, "93.184.216.34")).toBeNull();
    expect(addressProblem(emptyAllowList, "2606:2800:220:1::1")).toBeNull();
    for (const address of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "::1",
      "fe80::1",
      "fd00::1",
      "0.0.0.0",
      "::ffff:10.0.0.1",
    ]) {
      expect(addressProblem(emptyAllowList, address), address).toMatch(/DBPLANE_SCHEDULER_WEBHOOK_ALLOW/);
    }
  });

  it("lists hosts, host:port, *.suffix and CIDR (a bare address is its /32)", () => {
    const list = allow("127.0.0.1, hooks.internal, svc.local:8443, *.corp.example, 10.0.0.0/8, fd00::/8");
    expect(addressProblem(list, "127.0.0.1")).toBeNull();
    expect(addressProblem(list, "127.0.0.2")).not.toBeNull();
    expect(addressProblem(list, "10.200.0.1")).toBeNull();
    expect(addressProblem(list, "fd12::1")).toBeNull();
    expect(addressProblem(list, "192.168.0.1")).not.toBeNull();
    expect(hostAllowed(list, new URL("http://hooks.internal:9000/x"))).toBe(true);
    expect(hostAllowed(list, new URL("https://svc.local:8443/"))).toBe(true);
    expect(hostAllowed(list, new URL("https://svc.local/"))).toBe(false);
    expect(hostAllowed(list, new URL("https://a.b.corp.example/"))).toBe(true);
    expect(hostAllowed(list, new URL("https://corp.example/"))).toBe(false);
  });

  it("refuses entries it cannot read, naming them", () => {
    expect(parseWebhookAllowList("10.0.0.0/33")).toMatch(/10\.0\.0\.0\/33/);
    expect(parseWebhookAllowList("bad host!")).toMatch(/bad host!/);
    expect(parseWebhookAllowList("*.")).toMatch(/\*\./);
    expect(allow("")).toEqual(emptyAllowList);
  });
});

describe("webhook attempts", () => {
  it("2xx succeeds; 4xx but 408/429 fails at once; 5xx, 408, 429, timeouts and network errors retry", () => {
    expect(judgeAttempt({ kind: "response", status: 204 }).verdict).toBe("succeeded");
    for (const status of [400, 401, 404, 410, 422])
      expect(judgeAttempt({ kind: "response", status }).verdict).toBe("failed");
    for (const status of [408, 429, 500, 502, 503])
      expect(judgeAttempt({ kind: "response", status }).verdict).toBe("retry");
    expect(judgeAttempt({ kind: "response", status: 302 }).verdict).toBe("failed");
    expect(judgeAttempt({ kind: "timeout" }).verdict).toBe("retry");
    expect(judgeAttempt({ kind: "network", message: "ECONNREFUSED" }).verdict).toBe("retry");
    expect(judgeAttempt({ kind: "refused", message: "loopback" }).verdict).toBe("failed");
  });

  it("backs off exponentially with full jitter: up to 1 s, 2 s, 4 s … capped at 60 s", () => {
    expect(retryDelayMs(1, () => 0.999)).toBe(999);
    expect(retryDelayMs(3, () => 0.5)).toBe(2_000);
    expect(retryDelayMs(12, () => 0.999)).toBe(59_940);
    expect(retryDelayMs(5, () => 0)).toBe(0);
  });

  it("sends Idempotency-Key and the CloudEvents binary-mode headers beside the job's own", () => {
    const job = parseJobDefinition({
      id: "hook",
      schedule: { kind: "every", everyMs: 60_000 },
      target: {
        kind: "http",
        url: "https://e.com/x",
        headers: { Authorization: "Bearer t" },
        body: { a: 1 },
      },
    });
    const at = new Date("2030-01-01T00:00:00.000Z");
    const request = webhookRequest("hook", job.target as HttpTarget, at);
    expect(request).toMatchObject({ method: "POST", body: '{"a":1}' });
    expect(request.headers).toMatchObject({
      Authorization: "Bearer t",
      "content-type": "application/json",
      "idempotency-key": "hook:2030-01-01T00:00:00.000Z",
      "ce-id": "hook:2030-01-01T00:00:00.000Z",
      "ce-specversion": "1.0",
      "ce-type": "dev.dbplane.scheduler.job.fired",
      "ce-subject": "hook",
      "ce-time": "2030-01-01T00:00:00.000Z",
    });
    expect(request.headers["ce-source"]).toBeTruthy();
  });
});
