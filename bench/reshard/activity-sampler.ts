// Where the servers spend the split, by phase: every `intervalMs`, the non-idle backends of each
// server from pg_stat_activity, counted by backend type and wait event ("CPU" when waiting on
// nothing). A sample count per (phase, server, backend, wait) is time spent there, roughly.
import type pg from "pg";

export interface ActivityCount {
  readonly phase: string;
  readonly server: string;
  readonly backend: string;
  readonly wait: string;
  readonly samples: number;
}

export interface ActivitySampler {
  /** Samples taken per phase (one per interval, all servers at once). */
  ticks(): Map<string, number>;
  counts(): ActivityCount[];
  stop(): Promise<void>;
}

export function sampleActivity(
  servers: readonly { name: string; pool: pg.Pool }[],
  phase: () => string,
  intervalMs: number,
): ActivitySampler {
  const counts = new Map<string, ActivityCount>();
  const ticks = new Map<string, number>();
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      const current = phase();
      if (current) {
        ticks.set(current, (ticks.get(current) ?? 0) + 1);
        await Promise.all(
          servers.map(async ({ name, pool }) => {
            const { rows } = await pool.query<{ backend: string; wait: string }>(
              `SELECT backend_type || CASE
                        -- Every walsender of the move has the subscription's application_name: its
                        -- command (START_REPLICATION: the stream; COPY: a table's initial copy) tells them apart.
                        WHEN backend_type = 'walsender' THEN ' (' || split_part(ltrim(query), ' ', 1) || ')'
                        WHEN application_name <> '' THEN ' (' || application_name || ')'
                        ELSE '' END AS backend,
                      coalesce(wait_event_type || ':' || wait_event, 'CPU') AS wait
                 FROM pg_stat_activity
                WHERE pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'
                  AND backend_type NOT IN ('checkpointer', 'background writer', 'walwriter',
                                           'autovacuum launcher', 'logical replication launcher')`,
            );
            for (const r of rows) {
              const key = `${current}\0${name}\0${r.backend}\0${r.wait}`;
              const c = counts.get(key);
              counts.set(key, {
                phase: current,
                server: name,
                backend: r.backend,
                wait: r.wait,
                samples: (c?.samples ?? 0) + 1,
              });
            }
          }),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    ticks: () => ticks,
    counts: () => [...counts.values()],
    async stop() {
      stopping = true;
      await loop;
    },
  };
}
