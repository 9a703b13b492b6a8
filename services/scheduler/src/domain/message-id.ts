/**
 * The id of one occurrence — `Nats-Msg-Id`, CloudEvents `id` and the key of its run row:
 * `<jobId>:<scheduledAt as ISO 8601 UTC with milliseconds>`, e.g.
 * `backup.db-7:2026-03-29T01:00:00.000Z`. Derived from the fact, so a replica that re-fires
 * after a crash publishes the same id and JetStream's duplicate window absorbs it.
 */
export function occurrenceMessageId(jobId: string, scheduledAt: Date): string {
  return `${jobId}:${scheduledAt.toISOString()}`;
}
