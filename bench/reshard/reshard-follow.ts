// Follows one reshard through GET …/reshards/:id every `intervalMs`: when each phase was first
// seen (wall clock), and the reshard as it ended.
import type { JsonResponse } from "@dbplane/testkit";

/** A phase and when the poll first saw it (ms since the epoch). */
export interface PhaseMark {
  readonly phase: string;
  readonly at: number;
}

/** The reshard's view as GET answers it (inspected field by field). */
export type ReshardView = JsonResponse["body"];

export interface FollowedReshard {
  readonly marks: readonly PhaseMark[];
  /** The phase the last poll saw ("" before the first). */
  current(): string;
  /** Resolves with the reshard once it completed; rejects when it failed or was cancelled. */
  readonly ended: Promise<{ reshard: ReshardView; endedAt: number }>;
}

/** `first`: the phase the POST answered and when, so a phase over before the first GET still shows. */
export function followReshard(
  get: () => Promise<JsonResponse>,
  first: PhaseMark,
  intervalMs: number,
  timeoutMs: number,
): FollowedReshard {
  const marks: PhaseMark[] = [first];
  const deadline = Date.now() + timeoutMs;
  const ended = (async () => {
    for (;;) {
      const res = await get();
      const now = Date.now();
      if (res.status !== 200)
        throw new Error(`GET reshard answered ${res.status}: ${JSON.stringify(res.body)}`);
      const r = res.body;
      if (marks.at(-1)?.phase !== r.phase) marks.push({ phase: r.phase, at: now });
      if (r.state === "completed") return { reshard: r, endedAt: now };
      if (r.state !== "running") throw new Error(`reshard ${r.state} in ${r.phase}: ${r.error}`);
      if (now > deadline) throw new Error(`reshard still in ${r.phase} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return { marks, current: () => marks.at(-1)?.phase ?? "", ended };
}
