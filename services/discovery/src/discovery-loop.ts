import type { Logger } from "@dbplane/service-kit";
import type { DiscoveryDriver } from "./discovery-driver.ts";
import type { Inventory } from "./domain/inventory-types.ts";
import type { FactPublisher } from "./facts/fact-publisher.ts";

export interface DiscoveryLoopOptions {
  readonly driver: DiscoveryDriver;
  readonly publisher: FactPublisher;
  /** Changes arriving within this window are classified and published together. */
  readonly debounceMs: number;
  /** Full pass against the bucket this often, even without a change (catches what was missed). */
  readonly resyncMs: number;
  /** Lost facts are removed from the bucket this long after they were reported lost (checked at each resync). */
  readonly lostRetentionMs: number;
  /** Called with the number of lost facts a resync removed. */
  readonly onPruned?: (count: number) => void;
  readonly logger: Logger;
}

/** Retry after a failed pass (NATS away) or a stale view, until it goes through. */
const RETRY_MS = 1_000;

/**
 * Turns driver changes into published facts: one pass at a time, debounced, starting once the
 * driver's first complete view is in (so nothing is reported lost just because a list was not
 * read yet), then on every change and every `resyncMs`.
 */
export function createDiscoveryLoop(options: DiscoveryLoopOptions) {
  const { driver, publisher, logger } = options;
  let inventory: Inventory = { databases: [], apps: [] };
  let ready = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let resync: NodeJS.Timeout | undefined;

  const schedule = (delayMs: number) => {
    if (!ready || stopped || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void pass();
    }, delayMs);
  };

  async function pass(): Promise<void> {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      try {
        inventory = driver.inventory();
        const summary = await publisher.reconcile(inventory, driver.watermark());
        if (summary.published > 0) logger.debug({ published: summary.published }, "facts published");
        if (summary.stale > 0) schedule(RETRY_MS);
      } catch (err) {
        logger.warn({ err }, "discovery pass failed; retrying");
        schedule(RETRY_MS);
      }
    })();
    await running;
    running = undefined;
    if (again) {
      again = false;
      schedule(options.debounceMs);
    }
  }

  return {
    start(): void {
      driver.start(() => schedule(options.debounceMs));
      void (async () => {
        await driver.synced();
        for (;;) {
          try {
            await publisher.load();
            break;
          } catch (err) {
            if (stopped) return;
            logger.warn({ err }, "cannot read the fact bucket yet; retrying");
            await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
          }
        }
        if (stopped) return;
        ready = true;
        logger.info({ driver: driver.kind }, "first view complete; publishing facts");
        await pass();
        resync = setInterval(() => {
          void publisher
            .load()
            .then(pass)
            .then(() => publisher.prune(options.lostRetentionMs))
            .then(
              (pruned) => {
                if (pruned > 0) logger.info({ pruned }, "lost facts past their retention removed");
                options.onPruned?.(pruned);
              },
              (err) => logger.warn({ err }, "resync could not read or prune the fact bucket"),
            );
        }, options.resyncMs);
      })().catch((err) => logger.error({ err }, "discovery could not start publishing"));
    },
    isReady: () => ready,
    inventory: () => inventory,
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (resync) clearInterval(resync);
      await running;
      await driver.stop();
    },
  };
}
