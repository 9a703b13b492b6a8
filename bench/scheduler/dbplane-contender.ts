import { execSync } from "node:child_process";
import { join } from "node:path";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { signToken } from "@dbplane/service-kit";
import {
  type ChildService,
  createTestNats,
  createTestSchema,
  freePort,
  startChildService,
} from "@dbplane/testkit";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { BenchJob, Contender } from "./contender.ts";

const entry = join(import.meta.dirname, "../../services/scheduler/src/main.ts");
const decoder = new TextDecoder();

/** The job id of a target message: its payload is `{"id":"<job id>"}`. */
function idOf(data: Uint8Array): string {
  const text = decoder.decode(data);
  return text.slice(7, -2);
}

/**
 * When the stream stored a message (ms), from its ack subject: the timestamp is the second to
 * last token of `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>` (9
 * tokens), the third to last when domain, account hash and a random token make 12 — as nats.js's
 * `JsMsg.info` reads it, without building its object.
 */
function storedAt(ackSubject: string): number {
  let end = ackSubject.length;
  let dots = 0;
  for (let i = 0; i < ackSubject.length; i++) if (ackSubject.charCodeAt(i) === 46) dots++;
  const fromEnd = dots >= 11 ? 3 : 2;
  for (let k = 0; k < fromEnd - 1; k++) end = ackSubject.lastIndexOf(".", end - 1);
  const start = ackSubject.lastIndexOf(".", end - 1) + 1;
  return Number(ackSubject.slice(start, end)) / 1e6;
}
const secret = "bench-secret-bench-secret-0123456789";

/**
 * dbplane: two scheduler replicas as child processes on their own schema and namespace, jobs
 * created through `POST /v1/jobs/batch` (1,000 a request), targets published to a stream the bench consumes. Fire =
 * the subscriber receives the target message (so the figure includes the JetStream hop).
 */
export async function startDbplane(): Promise<Contender> {
  const db = await createTestSchema("bench");
  const nats = await createTestNats();
  const jsm = await jetstreamManager(nats.nc);
  const stream = `${nats.namespace.toUpperCase()}_BENCH_TARGET`;
  const subject = `${nats.namespace}.bench.fired`;
  await jsm.streams.add({ name: stream, subjects: [subject], duplicate_window: nanos(120_000) });
  const replicas: { svc: ChildService; base: string }[] = [];
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const svc = await startChildService({
      entry,
      name: `scheduler-${i}`,
      readyUrl: `${base}/health/ready`,
      env: {
        DBPLANE_HTTP_HOST: "127.0.0.1",
        DBPLANE_HTTP_PORT: String(port),
        DBPLANE_JWT_SECRET: secret,
        DBPLANE_NATS_URL: nats.url,
        DBPLANE_NATS_NAMESPACE: nats.namespace,
        DBPLANE_PG_URL: db.url,
        DBPLANE_SCHEDULER_SCHEMA: db.name,
        DBPLANE_SHUTDOWN_DELAY_MS: "0",
        DBPLANE_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
        DBPLANE_PG_POOL_SIZE: "20",
        ...(process.env.BENCH_NODE_OPTIONS && { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS }),
        ...(process.env.BENCH_TICK_MS && { DBPLANE_SCHEDULER_TICK_MS: process.env.BENCH_TICK_MS }),
        ...(process.env.BENCH_HORIZON_MS && { DBPLANE_SCHEDULER_HORIZON_MS: process.env.BENCH_HORIZON_MS }),
        ...(process.env.BENCH_LEASE_MS && { DBPLANE_SCHEDULER_LEASE_MS: process.env.BENCH_LEASE_MS }),
        ...(process.env.BENCH_CLAIM_LIMIT && {
          DBPLANE_SCHEDULER_CLAIM_LIMIT: process.env.BENCH_CLAIM_LIMIT,
        }),
        ...(process.env.BENCH_PUBLISH_CONCURRENCY && {
          DBPLANE_SCHEDULER_PUBLISH_CONCURRENCY: process.env.BENCH_PUBLISH_CONCURRENCY,
        }),
      },
    });
    replicas.push({ svc, base });
  }
  const token = await signToken(secret, { sub: "bench", scopes: ["admin"] });
  // The replicas' claim-lead and timer-lateness histograms (cumulative bucket counts) when the
  // last scenario started: their difference at the end is that scenario's alone.
  const splitBuckets = async () => {
    const counts = new Map<string, number>();
    for (const r of replicas) {
      const text = await fetch(`${r.base}/metrics`).then((res) => res.text());
      for (const m of text.matchAll(
        /^dbplane_scheduler_(claim_lead|timer_lateness)_seconds_bucket\{le="([^"]+)",manual="false"\} (\d+)/gm,
      ))
        counts.set(`${m[1]} ${m[2]}`, (counts.get(`${m[1]} ${m[2]}`) ?? 0) + Number(m[3]));
    }
    return counts;
  };
  // This process's own stalls (its event loop, its garbage collection) delay what it receives
  // as much as a replica's do: measured per scenario and printed beside the split.
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  let gcMs = 0;
  let gcMaxMs = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      gcMaxMs = Math.max(gcMaxMs, e.duration);
    }
  }).observe({ entryTypes: ["gc"] });
  const printOwnStalls = (label: string) => {
    console.error(
      `bench process during ${label}: event loop delay p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} max ${(loopDelay.max / 1e6).toFixed(0)} ms; gc ${gcMs.toFixed(0)} ms, longest ${gcMaxMs.toFixed(0)} ms`,
    );
    loopDelay.reset();
    gcMs = 0;
    gcMaxMs = 0;
  };
  let scenarioStart = new Map<string, number>();
  let scenarios = 0;
  // A scenario's firing lag split: claimed late (PostgreSQL, claim rounds) or claimed in time
  // and started late (the replicas' event loops), as the replicas measured it.
  const printSplit = async (label: string) => {
    const end = await splitBuckets();
    const inScenario = (key: string) => (end.get(key) ?? 0) - (scenarioStart.get(key) ?? 0);
    const armed = inScenario("claim_lead +Inf");
    const share = (n: number) => `${n} (${((100 * n) / Math.max(1, armed)).toFixed(1)}%)`;
    console.error(
      `dbplane ${label}, ${armed} armed: claimed at or after the due time ${share(inScenario("claim_lead 0"))}, ` +
        `less than 100 ms before it ${share(inScenario("claim_lead 0.1"))}; publish started more than ` +
        `25 ms late ${share(armed - inScenario("timer_lateness 0.025"))}, more than 100 ms ${share(armed - inScenario("timer_lateness 0.1"))}`,
    );
  };

  const first = new Map<string, number>();
  /**
   * When the stream stored each job's first message (ms), by scenario and the job's number: plain
   * arrays of doubles, not 100,000 retained strings, which made this process's GC pauses longer.
   */
  const storedTimes = new Map<string, number[]>();
  let duplicates = 0;
  let received = 0;
  const consumer = await jetstream(nats.nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  // Pull requests expire after 5 s (idle heartbeat 2.5 s), not nats.js's 30 s (15 s): a pull the
  // client and server disagree on (a reset ordered consumer, a dropped request) is noticed only
  // after two missed heartbeats, and at 30 s that outlasted the scenario's 15 s quiet period —
  // the consumer resumed after the scenario had ended and counted its jobs missed though every
  // message was in the stream.
  // Each message costs this process as little as can be: a callback (no async iterator), the
  // job id read from the payload (not by decoding the headers), the stream's timestamp kept as
  // the ack subject it comes in and read after the scenario. What this process spends per
  // message delays the next one's receipt, and a burst is 50,000 of them.
  const messages = await consumer.consume({
    max_messages: Number(process.env.BENCH_CONSUME_BATCH ?? 10_000),
    expires: 5_000,
    callback: (m) => {
      const now = Date.now();
      received++;
      const id = idOf(m.data);
      if (first.has(id)) duplicates++;
      else {
        first.set(id, now);
        // nats.js's message has it (`JsMsgImpl.reply`) but its interface does not say so.
        const dash = id.lastIndexOf("-");
        const scenario = id.slice(0, dash);
        let times = storedTimes.get(scenario);
        if (!times) {
          times = [];
          storedTimes.set(scenario, times);
        }
        times[Number(id.slice(dash + 1))] = storedAt((m as unknown as { reply?: string }).reply ?? "");
      }
    },
  });
  // What the consumer went through (resets, missed heartbeats, discarded pulls, errors) goes with
  // the figures: a stall shows up here with its time, not as "missed" with no explanation.
  void (async () => {
    for await (const s of messages.status()) {
      // Routine: pulls, heartbeats, and a pull expiring (408, its unused messages discarded).
      if (s.type === "next" || s.type === "heartbeat" || s.type === "discard") continue;
      if (s.type === "debug" && s.code === 408) continue;
      process.stderr.write(`dbplane consumer ${new Date().toISOString()}: ${JSON.stringify(s)}\n`);
    }
  })();
  void (async () => {
    for await (const s of nats.nc.status()) {
      if (s.type === "ping") continue;
      process.stderr.write(`dbplane bench connection ${new Date().toISOString()}: ${JSON.stringify(s)}\n`);
    }
  })();

  return {
    name: "dbplane",
    async create(jobs: readonly BenchJob[]) {
      // Batches of 1,000 through `POST /v1/jobs/batch` (as pg-boss's insert and BullMQ's addBulk
      // take 1,000), one batch in flight per replica.
      let next = 0;
      let shed = 0;
      await Promise.all(
        replicas.map(async ({ base }) => {
          while (next < jobs.length) {
            const batch = jobs.slice(next, next + 1_000);
            next += batch.length;
            const body = JSON.stringify({
              jobs: batch.map((job) => ({
                id: job.id,
                schedule: { kind: "at", at: new Date(job.dueAt).toISOString() },
                target: { subject, payload: { id: job.id } },
              })),
            });
            for (let attempt = 0; ; attempt++) {
              const res = await fetch(`${base}/v1/jobs/batch`, {
                method: "POST",
                headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
                body,
              });
              if (res.status === 200) {
                await res.body?.cancel();
                break;
              }
              // 503 is the replica shedding load (event loop behind): retry as a client should.
              if (res.status !== 503 || attempt >= 20)
                throw new Error(`create ${batch[0]!.id}…: ${res.status} ${await res.text()}`);
              await res.body?.cancel();
              shed++;
              await new Promise((resolve) => setTimeout(resolve, 100));
            }
          }
        }),
      );
      if (shed > 0) console.error(`dbplane: ${shed} batch creations answered 503 and were retried`);
    },
    fired() {
      return { first, duplicates };
    },
    async settle() {
      // Until no replica holds an occurrence (armed, publishing or waiting to be recorded).
      const started = Date.now();
      const held = async () => {
        let total = 0;
        for (const r of replicas) {
          const text = await fetch(`${r.base}/metrics`).then((res) => res.text());
          total += Number(/^dbplane_scheduler_occurrences\{stage="held"\} (\d+)/m.exec(text)?.[1] ?? 0);
        }
        return total;
      };
      let left = await held();
      while (left > 0 && Date.now() - started < 60_000) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        left = await held();
      }
      if (scenarios++ > 0) await printSplit(`scenario ${scenarios - 1}`);
      printOwnStalls(scenarios > 1 ? `scenario ${scenarios - 1}` : "the warm-up");
      scenarioStart = await splitBuckets();
      if (Date.now() - started > 500 || left > 0)
        process.stderr.write(
          `  waited ${((Date.now() - started) / 1000).toFixed(1)} s for the replicas to settle (${left} held)\n`,
        );
    },
    async diagnose() {
      // Where the messages are: still undelivered by the server (num_pending, a pull waiting:
      // num_waiting) or delivered to this client (delivered.stream_seq) and not yet iterated.
      const [ci, si] = await Promise.all([consumer.info(), jsm.streams.info(stream)]);
      return (
        `stream ${si.state.messages} messages (last seq ${si.state.last_seq}); consumer delivered stream seq ` +
        `${ci.delivered.stream_seq}, num_pending ${ci.num_pending}, num_waiting ${ci.num_waiting}, ` +
        `num_ack_pending ${ci.num_ack_pending}; received here ${received}`
      );
    },
    async close() {
      await messages.close();
      // Duplicates that reached the stream would have been consumed above; report the stream's view too.
      const info = await jsm.streams.info(stream);
      if (info.state.messages !== first.size) {
        console.error(
          `dbplane: stream holds ${info.state.messages} messages for ${first.size} distinct jobs`,
        );
      }
      // The replicas log at warn: anything they said (a slow or failed claim round, a refused
      // publish) is what explains missed jobs or a lag spike, so it goes with the figures.
      for (const [i, r] of replicas.entries()) {
        const metrics = await fetch(`${r.base}/metrics`).then((res) => res.text());
        const mine = metrics
          .split("\n")
          .filter((l) =>
            /^(process_cpu_(user|system)_seconds_total|dbplane_scheduler_(occurrences|claims_total|fired_total|missed_total|publish_failures_total)|nodejs_gc_duration_seconds_(sum|count)|nodejs_eventloop_lag_(max|p99)_seconds)/.test(
              l,
            ),
          );
        console.error(`dbplane replica ${i}: ${mine.join("; ")}`);
        const said = r.svc.output().trim();
        if (said) console.error(`dbplane replica ${i} logged:\n${said.split("\n").slice(-40).join("\n")}`);
      }
      await printSplit("last scenario");
      printOwnStalls("the last scenario");
      for (const r of replicas) r.svc.kill("SIGTERM");
      // A replica that does not stop is a bug: say what it logged last, then kill it.
      await Promise.all(
        replicas.map(async (r, i) => {
          const timer = setTimeout(() => {
            const last = r.svc.output().trim().split("\n").slice(-60).join("\n");
            console.error(`dbplane replica ${i} still running 30 s after SIGTERM; it logged last:\n${last}`);
            // Its sockets, with how long each has been quiet: a server close waits for its connections.
            console.error(execSync(`ss -tanpie | grep -A1 "pid=${r.svc.process.pid}," || true`).toString());
            r.svc.kill("SIGKILL");
          }, 30_000);
          await r.svc.exited;
          clearTimeout(timer);
        }),
      );
      await nats.cleanup();
      // Runs record the stream sequence of each acknowledged publish: fewer distinct sequences
      // than fired runs means JetStream acknowledged some publishes as duplicates of others.
      const seqs = await db.pool.query<{ fired: string; distinct_seqs: string; max_seq: string }>(
        `SELECT count(*) AS fired, count(DISTINCT stream_seq) AS distinct_seqs, max(stream_seq) AS max_seq
         FROM "${db.name}".runs WHERE outcome = 'fired'`,
      );
      console.error(`dbplane runs: ${JSON.stringify(seqs.rows[0])}, stream: ${info.state.messages} messages`);
      // Lateness as the replicas recorded it (publish acknowledged − due, on the database's
      // clock): set beside the consumer's lag, it tells a slow publish from a slow delivery.
      const late = await db.pool.query<{ scenario: string; p50: number; p99: number; max: number }>(
        `SELECT split_part(job_id, '-', 2) AS scenario,
                percentile_disc(0.5) WITHIN GROUP (ORDER BY lateness_ms) AS p50,
                percentile_disc(0.99) WITHIN GROUP (ORDER BY lateness_ms) AS p99,
                max(lateness_ms) AS max
         FROM "${db.name}".runs WHERE outcome = 'fired' GROUP BY 1 ORDER BY 1`,
      );
      for (const r of late.rows)
        console.error(`dbplane recorded lateness, ${r.scenario}: p50 ${r.p50} p99 ${r.p99} max ${r.max} ms`);
      // The consumer's lag split at the stream: due → stored (the replicas and NATS) and
      // stored → received here (delivery to this process). The due time is in the job's id-less
      // payload only, so it is taken from the run's scheduled_at.
      const due = await db.pool.query<{ job_id: string; due: string }>(
        `SELECT job_id, (extract(epoch FROM scheduled_at) * 1000)::bigint AS due
         FROM "${db.name}".runs WHERE outcome = 'fired'`,
      );
      const q = (xs: number[]) => {
        xs.sort((a, b) => a - b);
        return `p50 ${xs[Math.floor(xs.length / 2)]?.toFixed(0)} p99 ${xs[Math.ceil(xs.length * 0.99) - 1]?.toFixed(0)} max ${xs.at(-1)?.toFixed(0)} ms`;
      };
      for (const scenario of ["burst", "spread"]) {
        const toStore: number[] = [];
        const toReceive: number[] = [];
        for (const r of due.rows) {
          if (!r.job_id.includes(`-${scenario}-`)) continue;
          const dash = r.job_id.lastIndexOf("-");
          const s = storedTimes.get(r.job_id.slice(0, dash))?.[Number(r.job_id.slice(dash + 1))];
          const f = first.get(r.job_id);
          if (s === undefined || f === undefined) continue;
          toStore.push(s - Number(r.due));
          toReceive.push(f - s);
        }
        console.error(
          `dbplane ${scenario}, due → stored in the stream: ${q(toStore)}; stored → received: ${q(toReceive)}`,
        );
      }
      const byReplica = await db.pool.query<{ recorded_by: string; s: number; p99: number; n: string }>(
        `WITH spread AS (SELECT recorded_by, scheduled_at, lateness_ms FROM "${db.name}".runs
                         WHERE outcome = 'fired' AND job_id LIKE '%-spread-%')
         SELECT recorded_by, floor(extract(epoch FROM scheduled_at - (SELECT min(scheduled_at) FROM spread)))::int AS s,
                percentile_disc(0.99) WITHIN GROUP (ORDER BY lateness_ms) AS p99, count(*) FILTER (WHERE lateness_ms > 25) AS n
         FROM spread GROUP BY 1, 2 ORDER BY 1, 2`,
      );
      const replicasSeen = [...new Set(byReplica.rows.map((r) => r.recorded_by))];
      for (const [i, owner] of replicasSeen.entries())
        console.error(
          `dbplane recorded lateness, spread by second, replica ${i} (p99 ms/runs over 25 ms): ${byReplica.rows
            .filter((r) => r.recorded_by === owner)
            .map((r) => `${r.s}s ${r.p99}/${r.n}`)
            .join(", ")}`,
        );
      // The spread's recorded lateness second by second of its due times: a tail made at its
      // start (the first claim round takes the horizon's 10,000 jobs at once; creation still
      // running), throughout (a loaded machine) or in one stall shows as one line or as all.
      const slices = await db.pool.query<{ s: number; p99: number; max: number }>(
        `WITH spread AS (SELECT scheduled_at, lateness_ms FROM "${db.name}".runs
                         WHERE outcome = 'fired' AND job_id LIKE '%-spread-%')
         SELECT floor(extract(epoch FROM scheduled_at - (SELECT min(scheduled_at) FROM spread)))::int AS s,
                percentile_disc(0.99) WITHIN GROUP (ORDER BY lateness_ms) AS p99, max(lateness_ms) AS max
         FROM spread GROUP BY 1 ORDER BY 1`,
      );
      if (slices.rows.length > 0)
        console.error(
          `dbplane recorded lateness, spread by second (p99/max ms): ${slices.rows.map((r) => `${r.s}s ${r.p99}/${r.max}`).join(", ")}`,
        );
      await db.drop();
    },
  };
}
