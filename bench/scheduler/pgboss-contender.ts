import { createTestSchema } from "@dbplane/testkit";
import { PgBoss } from "pg-boss";
import type { BenchJob, Contender } from "./contender.ts";

/**
 * pg-boss: jobs with `startAfter`, two instances (as two replicas) each working in batches of
 * 1,000 at the shortest polling interval pg-boss allows (0.5 s), fetching without pause while
 * batches come back full. Fire = the handler receives the job.
 */
export async function startPgBoss(): Promise<Contender> {
  const db = await createTestSchema("pgboss");
  const connectionString = db.url;
  const schema = db.name;
  const name = "bench";
  const first = new Map<string, number>();
  let duplicates = 0;
  const bosses = [0, 1].map(() => new PgBoss({ connectionString, schema, max: 5 }));
  for (const boss of bosses) {
    boss.on("error", (err) => console.error("pg-boss:", err));
    await boss.start();
  }
  await bosses[0]!.createQueue(name);
  for (const boss of bosses) {
    await boss.work<{ id: string }>(
      name,
      { batchSize: 1_000, pollingIntervalSeconds: 0.5, burstWhenBatchFull: true },
      async (jobs) => {
        const now = Date.now();
        for (const job of jobs) {
          if (first.has(job.data.id)) duplicates++;
          else first.set(job.data.id, now);
        }
      },
    );
  }
  return {
    name: "pg-boss",
    async create(jobs: readonly BenchJob[]) {
      for (let i = 0; i < jobs.length; i += 1_000) {
        await bosses[0]!.insert(
          name,
          jobs.slice(i, i + 1_000).map((j) => ({ data: { id: j.id }, startAfter: new Date(j.dueAt) })),
        );
      }
    },
    fired: () => ({ first, duplicates }),
    async close() {
      await Promise.all(bosses.map((b) => b.stop({ graceful: true, timeout: 5_000 })));
      await db.drop();
    },
  };
}
