import { busNames } from "@dbplane/bus";
import { jobFired } from "@dbplane/contracts";
import { httpClient, waitFor } from "@dbplane/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { createSchedulerWorld, type SchedulerWorld } from "./scheduler-world.ts";

const JOBS = 30;
let world: SchedulerWorld | undefined;
afterEach(async () => {
  await world?.dispose();
  world = undefined;
});

describe("job.fired", () => {
  it("is published once the occurrence's run is recorded, with the target message's sequence", async () => {
    const w = await createSchedulerWorld();
    world = w;
    const replica = await w.startReplica();
    const api = httpClient(replica.base, w.token());
    // A core subscription sees each event as it is published; on each, the run must already be there.
    const seen: { jobId: string; scheduledAt: string; messageSeq: unknown; recorded: boolean }[] = [];
    const checks: Promise<void>[] = [];
    const sub = w.nats.nc.subscribe(busNames(w.nats.namespace).subject(jobFired.subject));
    void (async () => {
      for await (const m of sub) {
        const data = m.json<{ jobId: string; scheduledAt: string; messageSeq?: number }>();
        checks.push(
          w.db.pool
            .query(
              `SELECT 1 FROM "${w.db.name}".runs WHERE job_id = $1 AND scheduled_at = $2 AND outcome = 'fired'`,
              [data.jobId, data.scheduledAt],
            )
            .then((r) => {
              seen.push({ ...data, messageSeq: data.messageSeq, recorded: r.rowCount === 1 });
            }),
        );
      }
    })();
    const at = new Date(Math.ceil(((await w.dbNow()).getTime() + 5_000) / 1_000) * 1_000).toISOString();
    for (let i = 0; i < JOBS; i++) {
      const res = await api.call("POST", "/v1/jobs", {
        id: `ev-${i}`,
        schedule: { kind: "at", at },
        target: { subject: w.targetSubject("events") },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    // Recording is held up (a lock that lets no run in) until every target message is out, and
    // then a little longer: any job.fired seen meanwhile went out ahead of its run.
    const locker = await w.db.pool.connect();
    try {
      await locker.query("BEGIN");
      await locker.query(`LOCK TABLE "${w.db.name}".runs IN SHARE MODE`);
      await waitFor(async () => (await w.readTarget()).length === JOBS, {
        what: `${JOBS} target messages`,
        timeoutMs: 30_000,
      });
      await waitFor(() => seen.length === JOBS, {
        what: "events while runs cannot be recorded",
        timeoutMs: 2_000,
      }).catch(() => undefined);
    } finally {
      await locker.query("ROLLBACK");
      locker.release();
    }
    await waitFor(() => seen.length === JOBS, { what: `${JOBS} job.fired events`, timeoutMs: 30_000 });
    await Promise.all(checks);
    sub.unsubscribe();
    expect(seen.filter((e) => !e.recorded).map((e) => e.jobId)).toEqual([]);
    const seqs = new Map((await w.readTarget()).map((m) => [m.msgId, m.seq]));
    for (const e of seen) {
      expect(e.scheduledAt).toBe(at);
      expect(e.messageSeq).toBe(seqs.get(`${e.jobId}:${at}`));
    }
  }, 90_000);
});
