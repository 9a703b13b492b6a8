import { fileURLToPath } from "node:url";
import { type ChildService, freePort, startChildService, waitFor } from "@dbplane/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { signToken } from "../src/index.ts";

const entry = fileURLToPath(new URL("./fixtures/slow-service.ts", import.meta.url));
const SECRET = "a-test-secret-that-is-long-enough-0123456789";

let child: ChildService | undefined;
afterEach(async () => {
  await child?.dispose();
  child = undefined;
});

const messages = (service: ChildService) => service.logs().map((line) => String(line.msg));

describe("graceful shutdown on SIGTERM", () => {
  it("turns readiness 503, finishes the in-flight request, runs the steps in order and exits 0", async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    child = await startChildService({
      entry,
      name: "slow-service",
      readyUrl: `${base}/health/ready`,
      env: {
        DBPLANE_HTTP_HOST: "127.0.0.1",
        DBPLANE_HTTP_PORT: String(port),
        DBPLANE_JWT_SECRET: SECRET,
        DBPLANE_SHUTDOWN_DELAY_MS: "500",
        DBPLANE_SHUTDOWN_TIMEOUT_MS: "20000",
      },
    });
    const service = child;

    let inFlightDone = false;
    const inFlight = fetch(`${base}/v1/slow`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${await signToken(SECRET, { sub: "tester", scopes: ["admin"] })}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ workMs: 1500 }),
    }).then(async (res) => {
      inFlightDone = true;
      return { status: res.status, body: await res.json() };
    });
    await waitFor(() => messages(service).includes("slow work started"), {
      what: "the slow request to start",
    });

    service.kill("SIGTERM");
    await waitFor(async () => (await fetch(`${base}/health/ready`)).status === 503, {
      what: "readiness to answer 503",
      intervalMs: 20,
    });
    expect(inFlightDone).toBe(false);

    expect(await inFlight).toEqual({ status: 200, body: { done: true } });
    expect(await service.exited).toBe(0);

    const steps = service
      .logs()
      .filter(
        (line) => typeof line.shutdownStep === "string" && String(line.msg).startsWith("shutdown step:"),
      )
      .map((line) => line.shutdownStep);
    expect(steps).toEqual([
      "mark not ready",
      "wait for endpoints to drop the pod",
      "stop consumers",
      "close HTTP server",
      "drain NATS",
      "close pools",
    ]);

    const log = messages(service);
    const at = (msg: string) => {
      const index = log.indexOf(msg);
      expect(index, `log line "${msg}"`).toBeGreaterThanOrEqual(0);
      return index;
    };
    expect(at("shutdown started")).toBeLessThan(at("shutdown step: mark not ready"));
    // HTTP close waited for the in-flight request; pools closed only after HTTP was closed.
    expect(at("slow work finished")).toBeLessThan(at("shutdown step done: close HTTP server"));
    expect(at("shutdown step done: close HTTP server")).toBeLessThan(at("shutdown step: close pools"));
    expect(at("shutdown step done: close pools")).toBeLessThan(at("shutdown complete"));
  });

  it("exits 1 on a second signal during shutdown", async () => {
    const port = await freePort();
    child = await startChildService({
      entry,
      readyUrl: `http://127.0.0.1:${port}/health/ready`,
      env: {
        DBPLANE_HTTP_HOST: "127.0.0.1",
        DBPLANE_HTTP_PORT: String(port),
        DBPLANE_JWT_SECRET: SECRET,
        DBPLANE_SHUTDOWN_DELAY_MS: "10000",
        DBPLANE_SHUTDOWN_TIMEOUT_MS: "20000",
      },
    });
    const service = child;
    service.kill("SIGTERM");
    await waitFor(() => messages(service).includes("shutdown step: wait for endpoints to drop the pod"));
    service.kill("SIGINT");
    expect(await service.exited).toBe(1);
    expect(messages(service)).toContain("second signal during shutdown: exiting 1");
  });

  it("exits 1 when shutdown outlasts its timeout", async () => {
    const port = await freePort();
    child = await startChildService({
      entry,
      readyUrl: `http://127.0.0.1:${port}/health/ready`,
      env: {
        DBPLANE_HTTP_HOST: "127.0.0.1",
        DBPLANE_HTTP_PORT: String(port),
        DBPLANE_JWT_SECRET: SECRET,
        DBPLANE_SHUTDOWN_DELAY_MS: "0",
        DBPLANE_SHUTDOWN_TIMEOUT_MS: "1000",
      },
    });
    const service = child;
    // A request that outlives the timeout keeps "close HTTP server" from finishing.
    const stuck = fetch(`http://127.0.0.1:${port}/v1/slow`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${await signToken(SECRET, { sub: "tester", scopes: ["admin"] })}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ workMs: 10_000 }),
    }).catch(() => "connection dropped");
    await waitFor(() => messages(service).includes("slow work started"));
    service.kill("SIGTERM");
    expect(await service.exited).toBe(1);
    expect(messages(service)).toContain("shutdown timed out: exiting 1");
    expect(await stuck).toBe("connection dropped");
  });

  it("exits 1 after an uncaught exception, logging it and still closing in order", async () => {
    const port = await freePort();
    child = await startChildService({
      entry,
      readyUrl: `http://127.0.0.1:${port}/health/ready`,
      env: {
        DBPLANE_HTTP_HOST: "127.0.0.1",
        DBPLANE_HTTP_PORT: String(port),
        DBPLANE_JWT_SECRET: SECRET,
        DBPLANE_SHUTDOWN_DELAY_MS: "10000",
      },
    });
    const service = child;
    await fetch(`http://127.0.0.1:${port}/v1/crash`, {
      method: "POST",
      headers: { authorization: `Bearer ${await signToken(SECRET, { sub: "tester", scopes: ["admin"] })}` },
    });
    expect(await service.exited).toBe(1);
    const fatal = service.logs().find((line) => line.msg === "uncaught error: shutting down");
    expect(fatal).toMatchObject({ level: 60, err: { message: "simulated bug outside a request" } });
    const steps = service
      .logs()
      .filter((line) => String(line.msg).startsWith("shutdown step:"))
      .map((line) => line.shutdownStep);
    // No endpoint delay after a crash: the process is not trusted to keep serving.
    expect(steps).toEqual([
      "mark not ready",
      "stop consumers",
      "close HTTP server",
      "drain NATS",
      "close pools",
    ]);
  });
});
