import type { Inventory } from "./domain/inventory-types.ts";

/** Where discovery looks: a Kubernetes cluster, or PostgreSQL servers on this machine. */
export interface DiscoveryDriver {
  readonly kind: "kubernetes" | "local";
  /** Starts watching; `onChange` is called (often, cheaply) whenever the inventory may differ. */
  start(onChange: () => void): void;
  /** Resolves when the first complete view is in (informers listed, servers polled once). */
  synced(): Promise<void>;
  isSynced(): boolean;
  /** What the driver sees now. */
  inventory(): Inventory;
  /**
   * Observation order of the current view: the newest Kubernetes resourceVersion seen, or the
   * time of the last local listing. A fact written from a newer view is not overwritten from an older one.
   */
  watermark(): number;
  /** Objects held, by kind, for the `objects watched` metric. */
  watched(): Record<string, number>;
  stop(): Promise<void>;
}
