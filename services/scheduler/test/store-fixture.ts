import type { TestSchema } from "@dbplane/testkit";
import { createTestSchema } from "@dbplane/testkit";
import { afterAll, beforeAll } from "vitest";
import type { JobDefinitionInput } from "../src/domain/job-definition.ts";
import { parseJobDefinition } from "../src/domain/job-validation.ts";
import type { SchedulerStore } from "../src/store/scheduler-store.ts";
import { createSchedulerStore } from "../src/store/scheduler-store.ts";

export interface StoreFixture {
  readonly db: TestSchema;
  readonly store: SchedulerStore;
  /** The database's now. */
  dbNow(): Promise<Date>;
  /**
   * Moves a job's next occurrence as if the scheduler had been down since then: the one thing
   * tests set behind the store's back, because waiting 30 s of real time is not a test.
   */
  rewind(jobId: string, nextRunAt: Date, nextFireBy: Date): Promise<void>;
  /** Lets a claim's lease run out now, as if its holder had died a lease ago. */
  expireClaim(jobId: string): Promise<void>;
  drop(): Promise<void>;
}

export async function createStoreFixture(): Promise<StoreFixture> {
  const db = await createTestSchema("sched");
  const store = createSchedulerStore(db.pool, { schema: db.name });
  await store.migrate();
  const jobs = `"${db.name}".jobs`;
  return {
    db,
    store,
    async dbNow() {
      return (await db.pool.query<{ now: Date }>("SELECT now() AS now")).rows[0]!.now;
    },
    async rewind(jobId, nextRunAt, nextFireBy) {
      await db.pool.query(`UPDATE ${jobs} SET next_run_at = $2, next_fire_by = $3 WHERE id = $1`, [
        jobId,
        nextRunAt,
        nextFireBy,
      ]);
    },
    async expireClaim(jobId) {
      await db.pool.query(`UPDATE ${jobs} SET claim_expires_at = now() - interval '1 second' WHERE id = $1`, [
        jobId,
      ]);
    },
    drop: () => db.drop(),
  };
}

/** A valid job definition with defaults applied. */
export function job(over: Partial<JobDefinitionInput> & Pick<JobDefinitionInput, "id" | "schedule">) {
  return parseJobDefinition({ target: { subject: "test.scheduler.fired", payload: { n: 1 } }, ...over });
}

export const claimOptions = { horizonMs: 2_000, leaseMs: 15_000, limit: 100 } as const;
export const completeOptions = { horizonMs: 2_000, leaseMs: 15_000 } as const;

/** One fixture for every test of the calling file, through `assign`, dropped after the last one. */
export function fileStoreFixture(assign: (fixture: StoreFixture) => void): void {
  let current: StoreFixture | undefined;
  beforeAll(async () => {
    current = await createStoreFixture();
    assign(current);
  });
  afterAll(() => current?.drop());
}
