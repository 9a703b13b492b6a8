// The archive settings alone, so local-server.ts writes them without importing what connects.

const sh = (path: string) => `'${path.replaceAll("'", `'\\''`)}'`;

/**
 * The archive_command of a shard: never overwrites a segment already archived (`test ! -f`), and
 * a segment becomes visible under its name only once copied and flushed (cp to `.part`, `sync`,
 * `mv`), so a crash mid-copy leaves no half segment that a restore would read. PostgreSQL retries
 * a failing command and keeps the segment until it succeeds.
 */
export function archiveCommand(walDir: string): string {
  const to = (suffix: string) => sh(`${walDir}/%f${suffix}`);
  return `test ! -f ${to("")} && cp %p ${to(".part")} && sync ${to(".part")} && mv ${to(".part")} ${to("")}`;
}

/** postgresql.conf settings that archive every WAL segment into `walDir`. */
export function archiveSettings(walDir: string): Record<string, string> {
  return { archive_mode: "on", archive_command: archiveCommand(walDir), archive_timeout: "300s" };
}
