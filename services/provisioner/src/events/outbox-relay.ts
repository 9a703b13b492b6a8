import type { Bus } from "@dbplane/bus";
import type { Logger } from "@dbplane/service-kit";
import type pg from "pg";
import { drainOutbox } from "../store/outbox.ts";
import type { ProvisionerTables } from "../store/schema-tables.ts";

export interface OutboxRelay {
  start(): void;
  /** Publishes waiting events now. */
  kick(): void;
  /** Stops after a last drain, so events of finished work leave before NATS is drained. */
  stop(): Promise<void>;
}

/**
 * Moves events from the outbox to JetStream: on every kick (a state change was committed) and
 * on a timer (events whose publish failed, or that another replica wrote and then died).
 */
export function createOutboxRelay(deps: {
  pool: pg.Pool;
  tables: ProvisionerTables;
  bus: Bus;
  logger: Logger;
  intervalMs: number;
  onPublished?: (count: number) => void;
}): OutboxRelay {
  let timer: NodeJS.Timeout | undefined;
  let draining: Promise<void> = Promise.resolve();
  let pending = false;
  let stopped = false;

  const drainOnce = async () => {
    try {
      for (;;) {
        const count = await drainOutbox(deps.pool, deps.tables, async (entry) => {
          await deps.bus.publish(entry.def, entry.data, {
            id: entry.msgId,
            subject: entry.subject,
            ...(entry.correlationId && { correlationId: entry.correlationId }),
          });
        });
        if (count > 0) deps.onPublished?.(count);
        if (count < 100) break;
      }
    } catch (err) {
      deps.logger.warn({ err }, "publishing from the outbox failed; will retry");
    }
  };

  const kick = () => {
    if (pending) return;
    pending = true;
    draining = draining.then(() => {
      pending = false;
      return drainOnce();
    });
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      kick();
      void draining.finally(schedule);
    }, deps.intervalMs);
  };

  return {
    start() {
      kick();
      schedule();
    },
    kick,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      kick();
      await draining;
    },
  };
}
