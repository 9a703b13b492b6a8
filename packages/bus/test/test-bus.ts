import { pino } from "pino";
import { type Bus, type BusOptions, connectBus } from "../src/index.ts";

/** Bus logs stay quiet unless DBPLANE_TEST_LOG names a pino level. */
export const testLogger = pino({ level: process.env.DBPLANE_TEST_LOG ?? "silent" });

/** A bus in the test's namespace with its topology in place. */
export async function openTestBus(
  url: string,
  namespace: string,
  options: Partial<BusOptions> = {},
): Promise<Bus> {
  const bus = await connectBus({ servers: url, name: "bus-test", logger: testLogger, namespace, ...options });
  await bus.ensureTopology();
  return bus;
}
