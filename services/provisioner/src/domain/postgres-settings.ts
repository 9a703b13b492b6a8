/** Memory a server gets when the spec names none (the local driver's default). */
const DEFAULT_MEMORY_BYTES = 512 * 1024 * 1024;

const BINARY_SUFFIX: Readonly<Record<string, number>> = {
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
  Ei: 1024 ** 6,
};
const DECIMAL_SUFFIX: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** A Kubernetes quantity (`1Gi`, `512M`, `1.5e9`) in base units; the contract has validated its shape. */
export function quantityValue(quantity: string): number {
  const match = /^([0-9.]+)([eE][+-]?\d+|[A-Za-z]*)$/.exec(quantity);
  if (!match) throw new RangeError(`not a quantity: ${quantity}`);
  const [, number, suffix = ""] = match;
  if (/^[eE]/.test(suffix)) return Number(`${number}${suffix}`);
  const factor = BINARY_SUFFIX[suffix] ?? DECIMAL_SUFFIX[suffix];
  if (factor === undefined) throw new RangeError(`unknown quantity suffix: ${suffix}`);
  return Number(number) * factor;
}

const mb = (bytes: number) => `${Math.max(1, Math.floor(bytes / (1024 * 1024)))}MB`;

/**
 * postgresql.conf settings of every dbplane server. Sizes follow the usual rules of thumb for a
 * dedicated server (shared_buffers ¼ of memory, effective_cache_size ¾, maintenance_work_mem
 * 1/16 up to 1 GB). `wal_level=logical` because the router's online split catches a new shard up
 * by logical replication; wal senders and slots leave room for replicas plus split subscriptions.
 */
export function postgresSettings(memory: string | undefined, port: number): Record<string, string | number> {
  const bytes = memory ? quantityValue(memory) : DEFAULT_MEMORY_BYTES;
  return {
    port,
    wal_level: "logical",
    max_wal_senders: 16,
    max_replication_slots: 16,
    // A split copies its tables in parallel, one table-sync worker each (PostgreSQL's default: 2).
    max_worker_processes: 16,
    max_logical_replication_workers: 8,
    max_sync_workers_per_subscription: 4,
    wal_keep_size: "256MB",
    hot_standby: "on",
    shared_buffers: mb(bytes / 4),
    effective_cache_size: mb((bytes * 3) / 4),
    maintenance_work_mem: mb(Math.min(bytes / 16, 1024 ** 3)),
    work_mem: mb(Math.max(4 * 1024 * 1024, bytes / 256)),
    max_connections: 100,
    password_encryption: "scram-sha-256",
  };
}

/** Settings as postgresql.conf lines. */
export function renderSettings(settings: Record<string, string | number>): string {
  return `${Object.entries(settings)
    .map(([k, v]) => `${k} = ${typeof v === "number" ? v : `'${v.replaceAll("'", "''")}'`}`)
    .join("\n")}\n`;
}
