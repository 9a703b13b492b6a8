import { z } from "zod";

export const FACT_KINDS = ["database", "app"] as const;
export type FactKind = (typeof FACT_KINDS)[number];
export type FactEventType = "discovered" | "changed" | "lost";

/**
 * What the fact bucket holds per fact: the last state any replica published, the view it was
 * seen in, and the event that state owes the stream. `published` turns true once the stream has
 * acked the event; a replica that finds it false publishes the same event (same id) again.
 */
export const factRecord = z.object({
  kind: z.enum(FACT_KINDS),
  id: z.string().min(1),
  state: z.enum(["present", "lost"]),
  /** Content hash of the present state; empty when lost. */
  hash: z.string(),
  /**
   * Observation order of the view that wrote it (the highest Kubernetes resourceVersion seen, or
   * the time of a local listing): a replica whose view is older does not overwrite it.
   */
  watermark: z.number(),
  event: z.object({
    type: z.enum(["discovered", "changed", "lost"]),
    id: z.string().min(1),
    data: z.record(z.string(), z.unknown()),
  }),
  published: z.boolean(),
});
export type FactRecord = z.output<typeof factRecord>;

/** KV keys allow only `[-/_=.a-zA-Z0-9]`: the id is base64url-encoded under `<scope>.<kind>.`. */
export function factKey(scope: string, kind: FactKind, id: string): string {
  return `${scope}.${kind}.${Buffer.from(id, "utf8").toString("base64url")}`;
}

export function factOfKey(key: string): { kind: FactKind; id: string } | undefined {
  const [, kind, encoded] = key.split(".");
  if (!encoded || !FACT_KINDS.includes(kind as FactKind)) return undefined;
  return { kind: kind as FactKind, id: Buffer.from(encoded, "base64url").toString("utf8") };
}

/** A fact as the driver sees it now, with its content hash. */
export interface Desired {
  readonly kind: FactKind;
  readonly id: string;
  readonly data: Record<string, unknown>;
  readonly hash: string;
}

/** Whether the bucket already holds this state (present with this hash, or lost/absent for a lost fact). */
export function isSameState(current: FactRecord | undefined, desired: Desired | undefined): boolean {
  if (desired) return current?.state === "present" && current.hash === desired.hash;
  return current === undefined || current.state === "lost";
}

/**
 * The record that replaces `previousState` (at KV revision `previousRevision`, 0 if none), with
 * the event it owes. The event id names the fact, its content and the state it follows, so the
 * same transition always gets the same id and an A → B → A change still gets a fresh one.
 */
export function nextRecord(
  fact: { kind: FactKind; id: string; desired: Desired | undefined; watermark: number },
  previousState: FactRecord["state"] | undefined,
  previousRevision: number,
  now: Date = new Date(),
): FactRecord {
  const { kind, id, desired, watermark } = fact;
  const type: FactEventType = !desired ? "lost" : previousState === "present" ? "changed" : "discovered";
  const observedAt = now.toISOString();
  return {
    kind,
    id,
    state: desired ? "present" : "lost",
    hash: desired?.hash ?? "",
    watermark,
    event: {
      type,
      id: `${id}:${desired?.hash ?? "lost"}:${previousRevision}`,
      data: desired ? { ...desired.data, observedAt } : { id, reason: "no longer found", observedAt },
    },
    published: false,
  };
}
