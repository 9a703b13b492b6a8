import type { Logger } from "@dbplane/service-kit";
import type pg from "pg";
import type { Queries } from "../store/queries.ts";
import { withDatabaseLock } from "./database-lock.ts";
import { type PassOutcome, type ReconcileDeps, reconcileDatabase } from "./reconcile-database.ts";

export interface ReconcileLoopOptions extends ReconcileDeps {
  readonly pool: pg.Pool;
  readonly schema: string;
  readonly queries: Queries;
  readonly intervalMs: number;
  readonly resyncMs: number;
  /** Databases reconciled at once by this replica. */
  readonly concurrency: number;
  readonly logger: Logger;
  /** Called after every pass (e.g. to publish the events it wrote without waiting). */
  onPass(name: string, outcome: PassOutcome, seconds: number): void;
}

export interface ReconcileLoop {
  start(): void;
  /** Looks for work now instead of at the next tick. */
  kick(): void;
  /** Stops looking for work and waits for running passes to finish. */
  stop(): Promise<void>;
}

/**
 * Drives every database with work toward its desired state. Each pass runs under the database's
 * advisory lock (`withDatabaseLock`): a database is driven by one replica at a time, the others
 * skip it, and a replica that dies releases its locks, so another takes over at its next tick.
 */
export function createReconcileLoop(options: ReconcileLoopOptions): ReconcileLoop {
  const running = new Map<string, Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let ticking: Promise<void> | undefined;
  let again = false;

  const pass = async (name: string) => {
    await withDatabaseLock(options.pool, options.schema, name, async () => {
      const started = performance.now();
      const outcome = await reconcileDatabase(options, name);
      options.onPass(name, outcome, (performance.now() - started) / 1000);
      // More to do right away (a database that just became ready may have backups waiting).
      if (outcome === "progressed" || outcome === "ready") again = true;
    });
  };

  const tick = async () => {
    if (stopped) return;
    try {
      const due = await options.queries.dueForReconcile(options.resyncMs, options.concurrency * 4);
      for (const name of due) {
        if (running.size >= options.concurrency || stopped) break;
        if (running.has(name)) continue;
        const work = pass(name)
          .catch((err: unknown) => options.logger.error({ err, database: name }, "reconcile pass crashed"))
          .finally(() => {
            running.delete(name);
            if (again) {
              again = false;
              kick();
            }
          });
        running.set(name, work);
      }
    } catch (err) {
      options.logger.warn({ err }, "looking for reconcile work failed; will retry");
    }
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      ticking = tick().finally(schedule);
    }, options.intervalMs);
  };

  const kick = () => {
    if (stopped) return;
    clearTimeout(timer);
    timer = undefined;
    ticking = (ticking ?? Promise.resolve()).then(tick).finally(() => {
      if (!timer) schedule();
    });
  };

  return {
    start: () => kick(),
    kick,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await ticking;
      await Promise.all(running.values());
    },
  };
}
