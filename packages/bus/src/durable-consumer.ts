import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { Logger } from "pino";

export interface DurableSpec {
  readonly stream: string;
  readonly durable: string;
  readonly filterSubject: string;
  readonly ackWaitMs: number;
  readonly deliverPolicy: "all" | "new";
  /** One message in flight across every replica (`max_ack_pending: 1`): handled in stream order. */
  readonly ordered?: boolean;
}

const DURABLE_NAME = /^[A-Za-z0-9_-]+$/;
/** The server's default, stated so that turning `ordered` off again restores it. */
const UNORDERED_MAX_ACK_PENDING = 1000;

/**
 * Creates the durable pull consumer or brings an existing one to `spec`. `max_deliver` is left
 * unlimited on the server on purpose: the bus counts deliveries itself and dead-letters the
 * message, whereas a server-side limit would silently stop delivering it.
 */
export async function ensureDurable(jsm: JetStreamManager, spec: DurableSpec, logger: Logger): Promise<void> {
  if (!DURABLE_NAME.test(spec.durable)) {
    throw new Error(`durable name "${spec.durable}" must match ${DURABLE_NAME}`);
  }
  const desired: Partial<ConsumerConfig> = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(spec.ackWaitMs),
    max_deliver: -1,
    filter_subject: spec.filterSubject,
    deliver_policy: spec.deliverPolicy === "new" ? DeliverPolicy.New : DeliverPolicy.All,
    max_ack_pending: spec.ordered ? 1 : UNORDERED_MAX_ACK_PENDING,
  };
  let current = await consumerInfo(jsm, spec.stream, spec.durable);
  if (!current) {
    try {
      await jsm.consumers.add(spec.stream, desired);
      logger.info(
        { stream: spec.stream, durable: spec.durable, filterSubject: spec.filterSubject },
        "consumer created",
      );
      return;
    } catch (err) {
      // Lost a creation race against another replica: reconcile what it made.
      current = await consumerInfo(jsm, spec.stream, spec.durable);
      if (!current) throw err;
    }
  }
  const c = current.config;
  if (c.filter_subject !== spec.filterSubject) {
    await recreateFromAckFloor(jsm, spec, desired, current, logger);
  } else if (
    c.ack_wait !== desired.ack_wait ||
    c.max_deliver !== -1 ||
    c.max_ack_pending !== desired.max_ack_pending
  ) {
    await jsm.consumers.update(spec.stream, spec.durable, {
      ack_wait: desired.ack_wait,
      max_deliver: -1,
      max_ack_pending: desired.max_ack_pending,
    });
    logger.info({ stream: spec.stream, durable: spec.durable }, "consumer updated");
  }
}

/**
 * NATS 2.9 accepts an update of `filter_subject` but then delivers nothing, so a durable whose
 * message set changed is recreated, starting right after its ack floor: nothing acked is
 * handled again, everything unacked is redelivered. A work-queue stream (DBPLANE_CMD) admits
 * only `deliver all` — and needs no start: what was acked is no longer in it.
 */
async function recreateFromAckFloor(
  jsm: JetStreamManager,
  spec: DurableSpec,
  desired: Partial<ConsumerConfig>,
  current: ConsumerInfo,
  logger: Logger,
): Promise<void> {
  const startSeq = current.ack_floor.stream_seq + 1;
  const { config } = await jsm.streams.info(spec.stream);
  const start: Partial<ConsumerConfig> =
    config.retention === RetentionPolicy.Workqueue
      ? { deliver_policy: DeliverPolicy.All }
      : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq };
  try {
    await jsm.consumers.delete(spec.stream, spec.durable);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
  }
  try {
    await jsm.consumers.add(spec.stream, { ...desired, ...start });
  } catch (err) {
    // Another replica recreated it first; fine if it has the filter we need.
    const now = await consumerInfo(jsm, spec.stream, spec.durable);
    if (now?.config.filter_subject !== spec.filterSubject) throw err;
  }
  logger.warn(
    {
      stream: spec.stream,
      durable: spec.durable,
      from: current.config.filter_subject,
      to: spec.filterSubject,
      startSeq,
    },
    "consumer recreated for a new filter subject",
  );
}

async function consumerInfo(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.info(stream, durable);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) return undefined;
    throw err;
  }
}
