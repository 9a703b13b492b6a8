import { z } from "zod";
import { timestamp } from "../field-types.ts";
import type { MessageData } from "../message.ts";
import { defineEvent } from "../message.ts";

const unit = {
  projection: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,62}$/, "must be a kebab-case name")
    .describe("Projection name"),
  partition: z
    .int()
    .min(0)
    .describe("Partition of the projection: hash of the event subject modulo the count"),
  worker: z.string().min(1).max(253).describe("Replica that owns the unit"),
  generation: z
    .int()
    .min(1)
    .describe("Generation of the projection's tables the unit belongs to (a rebuild starts a new one)"),
  version: z.int().min(1).optional().describe("Projection version the generation runs"),
  token: z
    .int()
    .min(1)
    .optional()
    .describe("Fencing token of this ownership; increases with every acquisition"),
  checkpoint: z.int().min(0).optional().describe("Stream sequence applied when the unit changed hands"),
};

export const unitAssigned = defineEvent({
  service: "projection-coordinator",
  name: "unit.assigned",
  schema: z.strictObject({ ...unit, assignedAt: timestamp.describe("When the assignment was made") }),
  summary: "A work unit (projection, partition) was assigned to a replica.",
});

export const unitReleased = defineEvent({
  service: "projection-coordinator",
  name: "unit.released",
  schema: z.strictObject({ ...unit, releasedAt: timestamp.describe("When the replica let the unit go") }),
  summary: "A replica released a work unit, after its checkpoint was stored.",
});

export type UnitAssigned = MessageData<typeof unitAssigned>;
export type UnitReleased = MessageData<typeof unitReleased>;
