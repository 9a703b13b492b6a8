import { pino } from "pino";
import { type Bus, type BusOptions, connectBus } from "../src/index.ts";

/** Bus logs stay quiet unless DBPLANE_TEST_LOG names a pino level. */
export const testLogger = pino({ level: process.env.DBPLANE_TEST_LOG ?? "silent" });

/**
 * A bus in the test's namespace with its topology in place. It is named `collector` because
 * the test messages are the collector's: consumers accept only a message's declared producers
 * as its `ce-source`.
 */
export async function openTestBus(
  url: string,
  namespace: string,
  options: Partial<BusOptions> = {},
): Promise<Bus> {
  const bus = await connectBus({
    servers: url,
    name: "collector",
    logger: testLogger,
    namespace,
    ...options,
  });
  await bus.ensureTopology();
  return bus;
}
