import type { Bus } from "@dbplane/bus";
import {
  appChanged,
  appDiscovered,
  appLost,
  databaseChanged,
  databaseDiscovered,
  databaseLost,
  type MessageDefinition,
} from "@dbplane/contracts";
import type { FactRecord } from "./fact-record.ts";

const DEFINITIONS = {
  database: { discovered: databaseDiscovered, changed: databaseChanged, lost: databaseLost },
  app: { discovered: appDiscovered, changed: appChanged, lost: appLost },
} as const;

/**
 * Publishes the event a fact record owes, under the record's deterministic id. Returns false when
 * the stream already held it (another replica, or an earlier attempt, got there first).
 */
export async function publishFactEvent(bus: Bus, record: FactRecord): Promise<boolean> {
  // A record's data is untyped (it round-trips through the KV store); publish validates it.
  const definition: MessageDefinition = DEFINITIONS[record.kind][record.event.type];
  const ack = await bus.publish(definition, record.event.data, {
    subject: record.id,
    id: record.event.id,
  });
  return !ack.duplicate;
}

/**
 * Why a fact cannot be published (a field over the contract's limits, e.g. a label value an API
 * server let through), or undefined when it can.
 */
export function factProblem(kind: FactRecord["kind"], data: Record<string, unknown>): string | undefined {
  const result = DEFINITIONS[kind].discovered.schema.safeParse({
    ...data,
    observedAt: new Date(0).toISOString(),
  });
  return result.success
    ? undefined
    : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
}
