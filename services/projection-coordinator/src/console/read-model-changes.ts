import type { Logger } from "@dbplane/service-kit";
import pg from "pg";
import { READ_MODEL_CHANNEL, type ReadModelNotice } from "../projections/read-model-notice.ts";

/** A listener of read-model changes; returns its unsubscribe. */
export type ReadModelListener = (notice: ReadModelNotice) => void;

export interface ReadModelChanges {
  subscribe(listener: ReadModelListener): () => void;
  close(): Promise<void>;
}

/** After a lost connection, LISTEN again this much later (not in a hot loop against a down server). */
const RELISTEN_DELAY_MS = 1_000;

/**
 * One LISTEN connection per replica, shared by every open console stream. The projections
 * NOTIFY inside their transactions (see read-model-notice.ts), so whichever replica applied an
 * event, every replica's streams hear of it once it is committed. Notices of other schemas
 * (another coordinator group on the same server) are ignored.
 */
export function readModelChanges(pool: pg.Pool, schema: string, logger: Logger): ReadModelChanges {
  const listeners = new Set<ReadModelListener>();
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const onNotification = (message: pg.Notification) => {
    if (message.channel !== READ_MODEL_CHANNEL || !message.payload) return;
    const notice = JSON.parse(message.payload) as ReadModelNotice;
    if (notice.schema !== schema) return;
    for (const listener of listeners) listener(notice);
  };

  const listen = async (): Promise<void> => {
    if (closed || client) return;
    const c = new pg.Client({ ...pool.options, application_name: "dbplane-console-changes" });
    client = c;
    const lost = (err?: Error) => {
      if (client !== c) return;
      client = undefined;
      c.end().catch(() => {});
      if (closed) return;
      logger.warn({ err }, "read-model change listener lost its connection; listening again");
      retry = setTimeout(() => void listen(), RELISTEN_DELAY_MS);
    };
    c.on("error", lost);
    c.on("end", () => lost());
    c.on("notification", onNotification);
    try {
      await c.connect();
      await c.query(`LISTEN ${READ_MODEL_CHANNEL}`);
    } catch (err) {
      lost(err as Error);
    }
  };

  return {
    subscribe(listener) {
      listeners.add(listener);
      void listen();
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      listeners.clear();
      const c = client;
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}
