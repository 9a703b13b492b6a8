import type { RangeMover } from "./ports.ts";

/**
 * The move of a range in which the source holds no table at all (a database before its first
 * migration, or a move whose source has no sharded table): there is nothing to copy, stream or
 * verify, so every step is done at once and the reshard is the map change alone.
 *
 * `stillEmpty` is asked under the cut-over's fence (in stopApplying): a table created since the
 * copy phase looked would hold rows no copy moved, and the cut-over must not give its range away.
 */
export function emptyMove(stillEmpty: () => Promise<boolean>, onTableAppeared: () => Error): RangeMover {
  const none = async () => {};
  return {
    start: none,
    progress: async () => ({
      tables: [],
      rowsCopied: 0,
      rowsTotal: 0,
      lagBytes: 0,
      subscribed: false,
      errors: { apply: 0, sync: 0 },
    }),
    sourceLsn: async () => "0/0",
    waitApplied: none,
    openSnapshots: async () => ({ verify: async () => ({ equal: true, tables: [] }), close: none }),
    syncSequences: async () => [],
    async stopApplying() {
      if (!(await stillEmpty())) throw onTableAppeared();
    },
    resumeApplying: none,
    revealOnTarget: none,
    hideOnTarget: none,
    hideOnSource: none,
    revealOnSource: none,
    finish: none,
    deleteFromSource: async () => 0,
    cancel: none,
  };
}
