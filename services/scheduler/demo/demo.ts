// The scheduler demo the dev stack runs (package.json "dbplane.demo"): makes sure a stream
// captures `demo.>`, upserts a cron job that fires every 10 seconds in Europe/Berlin and
// publishes to `demo.heartbeat`, then prints every message that arrives — with its
// Nats-Msg-Id, `<jobId>:<scheduledAt>` — so you can watch exactly-once firing happen.
//
// Env: DBPLANE_URL (the scheduler, default http://127.0.0.1:7104), DBPLANE_TOKEN (a bearer
// token), DBPLANE_NATS_URL (default nats://127.0.0.1:4222).
import { DeliverPolicy, JetStreamApiError, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, nanos } from "@nats-io/transport-node";

const url = process.env.DBPLANE_URL ?? "http://127.0.0.1:7104";
const token = process.env.DBPLANE_TOKEN;
const natsUrl = process.env.DBPLANE_NATS_URL ?? "nats://127.0.0.1:4222";
if (!token) {
  process.stderr.write("DBPLANE_TOKEN is required (a bearer token for the scheduler API)\n");
  process.exit(64);
}

const STREAM = "DEMO";
const SUBJECT = "demo.heartbeat";
const nc = await connect({ servers: natsUrl, name: "scheduler-demo" });
const jsm = await jetstreamManager(nc);
try {
  await jsm.streams.info(STREAM);
} catch (err) {
  if (!(err instanceof JetStreamApiError)) throw err;
  // The scheduler refuses targets no stream captures: the stream is what deduplicates.
  await jsm.streams.add({
    name: STREAM,
    subjects: ["demo.>"],
    max_age: nanos(3_600_000),
    // Bounded in bytes too: a job publishing fast must not fill the server's disk.
    max_bytes: 64 * 1024 * 1024,
    duplicate_window: nanos(120_000),
  });
  console.log(`created stream ${STREAM} capturing demo.>`);
}

const job = {
  id: "demo-heartbeat",
  schedule: { kind: "cron", expression: "*/10 * * * * *", timeZone: "Europe/Berlin" },
  target: { subject: SUBJECT, payload: { hello: "from the dbplane scheduler" }, headers: { "x-demo": "1" } },
  misfire: "skip",
};
const res = await fetch(`${url}/v1/jobs`, {
  method: "POST",
  headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
  body: JSON.stringify(job),
});
if (!res.ok) {
  process.stderr.write(`POST /v1/jobs answered ${res.status}: ${await res.text()}\n`);
  process.exit(1);
}
const saved = (await res.json()) as { nextRunAt: string };
console.log(`job ${job.id} ${res.status === 201 ? "created" : "up to date"}; next run ${saved.nextRunAt}`);
console.log(`watching ${SUBJECT} (Ctrl-C to stop)…`);

// An ordered consumer over the whole stream (a subject filter on it needs NATS 2.10).
const consumer = await jetstream(nc).consumers.get(STREAM, { deliver_policy: DeliverPolicy.New });
const messages = await consumer.consume();
const stop = async () => {
  await messages.close();
  await nc.drain();
  process.exit(0);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
for await (const m of messages) {
  if (m.subject !== SUBJECT) continue;
  console.log(
    `${new Date().toISOString()} ${m.subject} seq=${m.seq} Nats-Msg-Id=${m.headers?.get("Nats-Msg-Id")} ${m.string()}`,
  );
}
