import { z } from "zod";

/** What the leader records about each assignment it writes (also served by `GET /v1/members`). */
export const assignmentSummary = z.object({
  epoch: z.number(),
  leader: z.string(),
  /** The lease token of the leader's term: a new term always writes a new assignment. */
  leaderToken: z.string(),
  /** Redis time (ms) of the write. */
  at: z.number(),
  /** Targets per member. */
  members: z.record(z.string(), z.number()),
  targets: z.number(),
  targetsVersion: z.string(),
  /** Targets whose owner changed with this assignment. */
  moved: z.number(),
});

export type AssignmentSummary = z.output<typeof assignmentSummary>;

export function parseSummary(json: string): AssignmentSummary | undefined {
  if (!json) return undefined;
  const parsed = assignmentSummary.safeParse(JSON.parse(json));
  return parsed.success ? parsed.data : undefined;
}

/** A member's share of one epoch: the targets it alone collects while that epoch is the newest. */
export interface Assignment {
  readonly epoch: number;
  readonly targets: ReadonlySet<string>;
}

/** Parses an `owned:<member>` value; a share of another epoch means "nothing for you in this one". */
export function shareOf(json: string, epoch: number): Assignment {
  if (!json) return { epoch, targets: new Set() };
  const share = JSON.parse(json) as { epoch: number; targets: string[] | Record<string, never> };
  // cjson writes an empty Lua table as {}.
  const targets = Array.isArray(share.targets) ? share.targets : [];
  return { epoch, targets: share.epoch === epoch ? new Set(targets) : new Set() };
}
