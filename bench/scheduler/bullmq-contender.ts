import { createTestRedis } from "@dbplane/testkit";
import { Queue, Worker } from "bullmq";
import type { BenchJob, Contender } from "./contender.ts";

/** BullMQ: delayed jobs, two workers (as two replicas), fire = the processor is called. */
export async function startBullmq(concurrency = 256): Promise<Contender> {
  const redis = await createTestRedis();
  const url = new URL(redis.url);
  const connection = { host: url.hostname, port: Number(url.port || 6379) };
  const prefix = `${redis.prefix}bull`;
  const name = "bench";
  const queue = new Queue(name, { connection, prefix });
  const first = new Map<string, number>();
  let duplicates = 0;
  const workers = [0, 1].map(
    () =>
      new Worker(
        name,
        async (job) => {
          const now = Date.now();
          if (first.has(job.id!)) duplicates++;
          else first.set(job.id!, now);
        },
        { connection, prefix, concurrency },
      ),
  );
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  return {
    name: "BullMQ",
    async create(jobs: readonly BenchJob[]) {
      for (let i = 0; i < jobs.length; i += 1_000) {
        const now = Date.now();
        await queue.addBulk(
          jobs.slice(i, i + 1_000).map((j) => ({
            name,
            data: {},
            opts: { jobId: j.id, delay: Math.max(0, j.dueAt - now), removeOnComplete: true },
          })),
        );
      }
    },
    fired: () => ({ first, duplicates }),
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      await redis.cleanup();
    },
  };
}
