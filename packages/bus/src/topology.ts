import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { type BusNames, STREAM_ROLES, type StreamRole } from "./naming.ts";

export interface TopologyOptions {
  readonly replicas: number;
  readonly duplicateWindowMs: number;
  readonly eventMaxAgeMs: number;
  readonly dlqMaxAgeMs: number;
  /**
   * Byte limit of `DBPLANE_EVT`; `DBPLANE_CMD` and `DBPLANE_DLQ` get a quarter each. A full
   * events or DLQ stream drops its oldest messages (as its age limit does); a full commands
   * stream refuses new commands — the publisher gets an error, no command is dropped silently.
   */
  readonly streamMaxBytes: number;
}

/** Policy values of DESIGN.md ("Messages"). */
export const TOPOLOGY_DEFAULTS = {
  replicas: 1,
  // Emitters may retry after a crash and a restart; the 2-minute server default is too short.
  duplicateWindowMs: 10 * 60_000,
  eventMaxAgeMs: 7 * 24 * 3_600_000,
  dlqMaxAgeMs: 30 * 24 * 3_600_000,
  // JetStream reserves a stream's max_bytes against the server's storage: modest by default
  // (1.5 GiB per stack), larger through DBPLANE_STREAM_MAX_BYTES.
  streamMaxBytes: 1024 * 1024 * 1024,
} as const satisfies TopologyOptions;

const STREAM_EXISTS = 10058;
/**
 * What nats-server 2.9 answers the loser of two concurrent creates of the same stream when the
 * winner's subjects are registered before its name: "subjects overlap with an existing stream".
 */
const STREAM_SUBJECT_OVERLAP = 10065;

type DesiredStream = Pick<
  StreamConfig,
  | "name"
  | "subjects"
  | "retention"
  | "storage"
  | "num_replicas"
  | "duplicate_window"
  | "max_age"
  | "max_bytes"
  | "discard"
>;

export function desiredStreams(names: BusNames, options: TopologyOptions): DesiredStream[] {
  const maxAge: Record<StreamRole, number> = {
    // Commands stay until a replica of their service handled them.
    cmd: 0,
    evt: options.eventMaxAgeMs,
    dlq: options.dlqMaxAgeMs,
  };
  return STREAM_ROLES.map((role) => ({
    name: names.stream(role),
    subjects: [names.streamSubjects(role)],
    retention: role === "cmd" ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: options.replicas,
    // The server refuses a window longer than the retention; nothing older can repeat anyway.
    duplicate_window: nanos(
      maxAge[role] > 0 ? Math.min(options.duplicateWindowMs, maxAge[role]) : options.duplicateWindowMs,
    ),
    max_age: nanos(maxAge[role]),
    max_bytes: role === "evt" ? options.streamMaxBytes : Math.floor(options.streamMaxBytes / 4),
    discard: role === "cmd" ? DiscardPolicy.New : DiscardPolicy.Old,
  }));
}

/**
 * Creates the three streams, or brings existing ones to the desired config. Idempotent, and
 * safe when several processes start at once: losing the create race reads the winner's stream
 * and reconciles it like any existing one.
 */
export async function ensureTopology(
  jsm: JetStreamManager,
  names: BusNames,
  options: TopologyOptions,
  logger: Logger,
) {
  await Promise.all(desiredStreams(names, options).map((desired) => ensureStream(jsm, desired, logger)));
}

async function ensureStream(jsm: JetStreamManager, desired: DesiredStream, logger: Logger): Promise<void> {
  const existing = await streamInfo(jsm, desired.name);
  if (!existing) {
    try {
      await jsm.streams.add(desired);
      logger.info({ stream: desired.name }, "stream created");
      return;
    } catch (err) {
      const lostRace =
        err instanceof JetStreamApiError &&
        (err.code === STREAM_EXISTS || err.code === STREAM_SUBJECT_OVERLAP);
      if (!lostRace) throw err;
      // An overlap with a stream of another name is a real conflict: only our own name counts.
      if (err.code === STREAM_SUBJECT_OVERLAP && !(await streamInfo(jsm, desired.name))) throw err;
    }
  }
  const current = existing ?? (await streamInfo(jsm, desired.name));
  if (!current) throw new Error(`stream ${desired.name} vanished while being created`);
  const drift = configDrift(current, desired);
  if (drift.length === 0) return;
  if (drift.includes("retention")) {
    throw new Error(
      `stream ${desired.name} has retention "${current.config.retention}", expected "${desired.retention}"`,
    );
  }
  await jsm.streams.update(desired.name, { ...current.config, ...desired });
  logger.info({ stream: desired.name, drift }, "stream updated");
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
    throw err;
  }
}

function configDrift(info: StreamInfo, desired: DesiredStream): string[] {
  const c = info.config;
  const drift: string[] = [];
  if ([...(c.subjects ?? [])].sort().join(",") !== [...desired.subjects].sort().join(","))
    drift.push("subjects");
  if (c.retention !== desired.retention) drift.push("retention");
  if (c.num_replicas !== desired.num_replicas) drift.push("num_replicas");
  if (c.duplicate_window !== desired.duplicate_window) drift.push("duplicate_window");
  if (c.max_age !== desired.max_age) drift.push("max_age");
  if (c.max_bytes !== desired.max_bytes) drift.push("max_bytes");
  if (c.discard !== desired.discard) drift.push("discard");
  return drift;
}
