import type { CreateDatabase } from "@dbplane/contracts";
import { cronProblem } from "./backup-schedule.ts";
import { InvalidChangeError } from "./errors.ts";

/** A rule of a create that the contract's schema alone cannot state (it spans fields). */
export interface CreateProblem {
  /** The field, as a path in the request (`["synchronous", "replicas"]`). */
  readonly path: readonly string[];
  readonly message: string;
}

/**
 * What is wrong with a create request beyond its schema: synchronous.replicas past the replicas
 * there are, a backup schedule's cron or zone. The one list both doors use — the HTTP body's
 * refinement (400 naming the field) and the create-database command (dead letter with the reason)
 * — so neither accepts what the other refuses.
 */
export function createRequestProblems(request: CreateDatabase): CreateProblem[] {
  const problems: CreateProblem[] = [];
  if (request.synchronous && request.synchronous.replicas > request.replicasPerShard) {
    problems.push({
      path: ["synchronous", "replicas"],
      message: `must be at most replicasPerShard (${request.replicasPerShard}): a commit cannot wait for replicas that do not exist`,
    });
  }
  const schedule = request.backup?.schedule;
  const problem = schedule && cronProblem(schedule.cron, schedule.timezone);
  if (problem) problems.push({ path: ["backup", "schedule", "cron"], message: problem });
  return problems;
}

/** Throws the first of `createRequestProblems` as an InvalidChangeError naming its field. */
export function checkCreateRequest(request: CreateDatabase): void {
  const [first] = createRequestProblems(request);
  if (first) throw new InvalidChangeError(first.path.join("."), `${first.path.join(".")} ${first.message}`);
}
