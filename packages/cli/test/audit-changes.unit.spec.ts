import { describe, expect, it } from "vitest";
import type { ApiClient } from "../src/api-client.ts";
import { AuditChanges } from "../src/audit-tail.ts";
import { ApiError } from "../src/cli-error.ts";

/** A coordinator whose change stream the test writes to. */
function fakeCoordinator(refuse = false) {
  let push!: (text: string) => void;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      push = (text) => controller.enqueue(new TextEncoder().encode(text));
    },
  });
  const client = {
    service: "projection-coordinator",
    baseUrl: "http://127.0.0.1:1",
    request: () => Promise.reject(new Error("not used")),
    stream: async () => {
      if (refuse) throw new ApiError("projection-coordinator", 404, undefined, "Not Found");
      return body;
    },
  } as unknown as ApiClient;
  return { client, push: (text: string) => push(text) };
}

describe("the audit change stream of events tail", () => {
  it("wakes the tail at a change of the audit read model, not at other changes", async () => {
    const { client, push } = fakeCoordinator();
    const changes = new AuditChanges(client);
    expect(await changes.ready).toBe(true);
    let woke = false;
    const waiting = changes.wait(60_000).then(() => {
      woke = true;
    });
    push('event: ready\ndata: {"models":["fleet","audit"]}\n\n');
    push('event: change\ndata: {"models":["fleet"],"types":[]}\n\n');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(woke).toBe(false);
    // Split across chunks, as a network may deliver it.
    push('event: change\ndata: {"models":["au');
    push('dit"],"types":["io.dbplane.scheduler.job.fired.v1"]}\n\n');
    await waiting;
    expect(woke).toBe(true);
    changes.close();
  });

  it("says it is not live where the coordinator has no stream, and waits the interval", async () => {
    const changes = new AuditChanges(fakeCoordinator(true).client);
    expect(await changes.ready).toBe(false);
    expect(changes.live).toBe(false);
    await changes.wait(5);
    changes.close();
  });
});
