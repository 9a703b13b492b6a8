import type { Logger } from "@dbplane/service-kit";
import type pg from "pg";
import { launchCopy } from "./copy-launch.ts";
import { clearTargetRange, endCopySessions } from "./copy-leftovers.ts";
import { lagBytes, type MoveProgress, subscriptionErrors, type TableProgress } from "./copy-progress.ts";
import { copyRunOf, stopCopyRun } from "./copy-run.ts";
import { copyApplicationName, estimateRows } from "./initial-copy.ts";
import { assertTargetEmpty, checkSource, checkTarget } from "./preflight.ts";
import { deleteRange } from "./range-delete.ts";
import { RangeMoveError } from "./range-move-error.ts";
import { assertValidSpec, objectName, type RangeMoveSpec } from "./range-move-spec.ts";
import { openRangeSnapshots, type RangeSnapshots } from "./range-snapshots.ts";
import { type SyncedSequence, syncSequences } from "./sequence-sync.ts";
import { withShard } from "./shard-client.ts";
import {
  createPublication,
  ensureRole,
  type MoveRecord,
  readMoveRecord,
  writeMoveRecord,
} from "./source-objects.ts";
import { dropPublicationAndRole, dropSlots } from "./source-teardown.ts";
import {
  disableSubscription,
  dropSubscriptionLocally,
  enableSubscription,
  findSubscription,
  isSuperuser,
  syncSlotPattern,
} from "./subscription.ts";
import { hideRange, revealRange } from "./target-visibility.ts";
import { waitApplied } from "./wait-applied.ts";

/** How long progress() waits for a copy running in this process to end before it answers. */
const PROGRESS_WAIT_MS = 1_000;

/**
 * Moves one hash range of rows from a source shard primary to a target with PostgreSQL's logical
 * replication. Holds no state between calls: everything lives in the servers' catalogs under the
 * name `dbplane_rs_<id>`, so a new instance with the same spec continues where a crashed caller
 * stopped, and every method may be called again.
 *
 * A split calls, in order: start(); progress() until every table is `replicating`; raise the write
 * fence; waitApplied(await sourceLsn()); syncSequences(); openSnapshots(); switch the map; lift the
 * fence; verify() and close() the snapshots; finish(); deleteFromSource(). Before the switch,
 * cancel() undoes it all.
 */
export class RangeMove {
  /** The name of the publication, slot, subscription and role. */
  readonly name: string;
  readonly #spec: RangeMoveSpec;
  readonly #logger: Logger;

  /** @throws RangeMoveError INVALID_SPEC naming the field */
  constructor(spec: RangeMoveSpec, logger: Logger) {
    assertValidSpec(spec);
    this.#spec = spec;
    this.name = objectName(spec);
    this.#logger = logger.child({ rangeMove: this.name });
  }

  #both<T>(work: (source: pg.Client, target: pg.Client) => Promise<T>): Promise<T> {
    return withShard(this.#spec.source, (source) =>
      withShard(this.#spec.target, (target) => work(source, target)),
    );
  }

  /**
   * Checks wal_level=logical on the source, every table on both sides with a primary key (or replica
   * identity) that covers its shard key, and the target's range empty; then makes what is missing of
   * the role (LOGIN REPLICATION, SELECT on the tables, random password never logged) and the
   * publication with its row filters, creates the slot on a replication connection with an exported
   * snapshot and the subscription (disabled, no copy of its own), and starts the initial copy:
   * COPY … TO STDOUT of each table's range in that snapshot piped into COPY … FROM STDIN on the
   * target, parts in parallel. Returns once the copy is under way; progress() follows it, and when
   * it ends the subscription is enabled and streams from the slot.
   *
   * Called again after the copy ended: nothing to do (the subscription enabled if a crash came
   * between). Called while a copy is unfinished (a crash, a failed copy, another process's copy):
   * that copy's connections are ended, its slot and subscription dropped, the range cleared on
   * the target, and the copy starts over with a new slot — the old snapshot is gone with it.
   * @throws RangeMoveError WAL_LEVEL, TABLE_MISSING, KEY_MISSING, NO_REPLICA_IDENTITY, TARGET_NOT_EMPTY
   */
  start(): Promise<void> {
    const spec = this.#spec;
    return this.#both(async (source, target) => {
      const started = performance.now();
      // Each side on its own connection: the two sides' steps overlap.
      await Promise.all([checkSource(source, spec), checkTarget(target, spec)]);
      const [record, subscription] = await Promise.all([
        readMoveRecord(source, this.name),
        findSubscription(target, this.name),
      ]);
      if (record?.copied && subscription) {
        if (!subscription.enabled) await enableSubscription(target, this.name);
        this.#logger.info("initial copy done before: replicating");
        return;
      }
      const running = copyRunOf(this.name);
      if (running && !running.failure && record && !record.copied) {
        this.#logger.info("initial copy running in this process");
        return;
      }
      await this.#clearUnfinishedCopy(source, target);
      // A publication means an earlier start: rows in the range are its copy's, not foreign ones.
      if (record) await clearTargetRange(target, spec);
      else await assertTargetEmpty(target, spec);
      // Before the first copied row: a serving target's readers must never see one.
      if (spec.targetServes) await hideRange(target, this.name, spec);
      // A superuser makes the subscription a role of its own (a new password each time: nothing
      // kept the last one, and no subscription uses it yet); the reshard role (not a superuser,
      // so it cannot grant REPLICATION) lends its own login, which has REPLICATION already.
      const login = (await isSuperuser(source))
        ? { user: this.name, password: await ensureRole(source, this.name, spec) }
        : { user: spec.source.user, password: spec.source.password ?? "" };
      if (!record) {
        await createPublication(source, this.name, spec, { rowsTotal: await estimateRows(source, spec) });
        this.#logger.info("publication created");
      } else if (record.copied) {
        await writeMoveRecord(source, this.name, { ...record, copied: false });
      }
      this.#logger.info({ ms: Math.round(performance.now() - started) }, "checked and prepared: copying");
      await launchCopy(
        source,
        target,
        spec,
        this.name,
        {
          host: spec.sourceFromTarget.host,
          port: spec.sourceFromTarget.port,
          database: spec.source.database,
          ...login,
          ...(spec.source.ssl && { ssl: spec.source.ssl }),
        },
        this.#logger,
      );
    });
  }

  /**
   * Ends whatever is left of an unfinished copy: this process's run, any other copy connection on
   * either server, the subscription (and the table-sync slots of one made by an earlier version
   * that let PostgreSQL copy) and the slot.
   */
  async #clearUnfinishedCopy(source: pg.Client, target: pg.Client): Promise<void> {
    await stopCopyRun(this.name);
    const applicationName = copyApplicationName(this.name);
    await endCopySessions(source, applicationName);
    await endCopySessions(target, applicationName);
    const subscription = await findSubscription(target, this.name);
    if (subscription?.enabled) await disableSubscription(target, this.name);
    await dropSlots(source, [this.name], subscription ? syncSlotPattern(subscription.oid) : undefined);
    if (subscription) await dropSubscriptionLocally(target, this.name);
  }

  /**
   * Per table its state and rows copied so far (counted from the COPY stream); totals (the
   * planner's estimate while copying, the rows copied once done); replication lag in bytes; the
   * target's replication error counts. While the initial copy runs in this process, it answers
   * when the copy ends or after PROGRESS_WAIT_MS (1 s), whichever comes first.
   * @throws the initial copy's error when it failed in this process; RangeMoveError NOT_STARTED when
   * a copy was started but runs nowhere here (a crashed caller): start() again runs it anew
   */
  async progress(): Promise<MoveProgress> {
    // A caller polls this until the copy ends: answering at its end, not a poll interval later,
    // saves the move that interval (up to PROGRESS_WAIT_MS per call while this process copies).
    await copyRunOf(this.name)?.finishedWithin(PROGRESS_WAIT_MS);
    return this.#both(async (source, target) => {
      const record = await readMoveRecord(source, this.name);
      const subscription = await findSubscription(target, this.name);
      const tables = this.#tableProgress(record, subscription !== undefined);
      return {
        tables,
        rowsCopied: tables.reduce((sum, t) => sum + t.rowsCopied, 0),
        rowsTotal: tables.reduce((sum, t) => sum + t.rowsTotal, 0),
        lagBytes: await lagBytes(source, this.name),
        subscribed: subscription !== undefined,
        errors: await subscriptionErrors(target, this.name),
      };
    });
  }

  #tableProgress(record: MoveRecord | undefined, subscribed: boolean): TableProgress[] {
    const tables = this.#spec.tables;
    if (record?.copied && subscribed) {
      return tables.map((t) => {
        const rows = record.rowsTotal[t.table] ?? 0;
        return { table: t.table, state: "replicating", rowsCopied: rows, rowsTotal: rows };
      });
    }
    const run = copyRunOf(this.name);
    const failure = run?.failure;
    if (failure) throw failure.error;
    if (record && !run) {
      throw new RangeMoveError(
        "NOT_STARTED",
        `the initial copy of ${this.name} runs nowhere in this process (it was interrupted): start() runs it again`,
      );
    }
    return tables.map((t) => ({
      table: t.table,
      state: "copying",
      rowsCopied: run?.rowsCopied(t.table) ?? 0,
      rowsTotal: run?.rowsTotal(t.table) ?? record?.rowsTotal[t.table] ?? 0,
    }));
  }

  /**
   * The source's current WAL position: its insert position (pg_current_wal_insert_lsn), not the
   * written one — a commit under synchronous_commit=off returns before its record is written, and
   * a position before it would let waitApplied() resolve without that commit.
   */
  sourceLsn(): Promise<string> {
    return withShard(this.#spec.source, async (source) => {
      const { rows } = await source.query<{ lsn: string }>("SELECT pg_current_wal_insert_lsn()::text AS lsn");
      return rows[0]!.lsn;
    });
  }

  /**
   * Resolves when the target has applied everything up to `lsn` (every table ready, slot confirmed).
   * @throws RangeMoveError APPLY_TIMEOUT after timeoutMs; NOT_STARTED without slot or subscription
   */
  waitApplied(lsn: string, timeoutMs: number): Promise<void> {
    return this.#both((source, target) => waitApplied(source, target, this.name, lsn, timeoutMs));
  }

  /**
   * Call only while no write reaches the range on the source and after waitApplied: opens a
   * REPEATABLE READ snapshot on each side and returns at once; verify() computes the checksums later,
   * outside the fence.
   */
  openSnapshots(): Promise<RangeSnapshots> {
    return openRangeSnapshots(this.#spec);
  }

  /**
   * Carries the sequences of the tables' serial/identity columns forward on the target to the
   * source's position: logical replication copies rows, not sequences. Call inside the write fence,
   * after waitApplied, so no value the source hands out later reaches the range unseen.
   */
  syncSequences(): Promise<SyncedSequence[]> {
    return this.#both((source, target) => syncSequences(source, target, this.#spec.tables));
  }

  /**
   * Makes the copied rows visible on a serving target (spec.targetServes): the cut-over calls it
   * under the fence, after stopApplying() and before the map gives the range to the target.
   * Idempotent; a no-op for a target that serves nothing.
   */
  revealOnTarget(): Promise<void> {
    return withShard(this.#spec.target, (target) => revealRange(target, this.name, this.#spec));
  }

  /** Hides the copied rows on the target again (a cut-over that failed after revealOnTarget). */
  hideOnTarget(): Promise<void> {
    if (!this.#spec.targetServes) return Promise.resolve();
    return withShard(this.#spec.target, (target) => hideRange(target, this.name, this.#spec));
  }

  /**
   * Hides the moved rows on the SOURCE from every non-superuser: the cut-over calls it under the
   * fence (reads held too) right before the map gives the range to the target, so a read of the
   * source never counts a row the target now owns; deleteFromSource() removes the rows and then
   * the policy. Idempotent.
   */
  hideOnSource(): Promise<void> {
    return withShard(this.#spec.source, (source) => hideRange(source, this.name, this.#spec));
  }

  /** Undoes hideOnSource() (a cut-over that failed before the map switch). Idempotent. */
  revealOnSource(): Promise<void> {
    return withShard(this.#spec.source, (source) => revealRange(source, this.name, this.#spec));
  }

  /**
   * Stops applying on the target (the subscription is disabled; its slot keeps its position). The
   * cut-over calls it under the fence once everything is applied: from the map switch on, writes to
   * unsharded tables reach the target directly, and a change still streaming from the source would
   * apply them twice. Idempotent.
   */
  stopApplying(): Promise<void> {
    return withShard(this.#spec.target, async (target) => {
      const subscription = await findSubscription(target, this.name);
      if (subscription?.enabled) await disableSubscription(target, this.name);
    });
  }

  /**
   * Applies again after stopApplying(), from where the slot stopped: a cut-over that failed before
   * the map switch (or a runner resuming one) catches up whatever the source committed meanwhile.
   * Idempotent.
   */
  resumeApplying(): Promise<void> {
    return withShard(this.#spec.target, async (target) => {
      const subscription = await findSubscription(target, this.name);
      if (subscription && !subscription.enabled) {
        await enableSubscription(target, this.name);
      }
    });
  }

  /**
   * Stops an initial copy still running, drops the subscription (target), the slot and any table-sync slot, the publication and the role
   * (source). Rows stay where they are. The slots go before the subscription: once it is dropped,
   * nothing would name its table-sync slots any more.
   */
  finish(): Promise<void> {
    return this.#both(async (source, target) => {
      await this.#clearUnfinishedCopy(source, target);
      await dropPublicationAndRole(source, this.name);
      this.#logger.info("replication objects dropped");
    });
  }

  /**
   * Deletes the range's rows of sharded tables from the source in batches (never unsharded ones).
   * Refuses while the publication or slot exists: the deletes would replicate to the target.
   * @throws RangeMoveError STILL_REPLICATING before finish()
   */
  deleteFromSource(onProgress?: (deleted: number) => void): Promise<number> {
    const spec = this.#spec;
    return withShard(spec.source, async (source) => {
      const { rows } = await source.query<{ replicating: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)
             OR EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1) AS replicating`,
        [this.name],
      );
      if (rows[0]?.replicating) {
        throw new RangeMoveError(
          "STILL_REPLICATING",
          `publication or slot ${this.name} still exists on the source: call finish() before deleteFromSource()`,
        );
      }
      let deleted = 0;
      for (const table of spec.tables) {
        if (!table.key) continue;
        const before = deleted;
        deleted += await deleteRange(source, table, spec.from, spec.to, (n) => onProgress?.(before + n));
      }
      // The rows are gone: the policy hiding them (hideOnSource) has nothing left to hide.
      await revealRange(source, this.name, spec);
      this.#logger.info({ deleted }, "moved rows deleted from the source");
      return deleted;
    });
  }

  /** Cancel before cut-over: finish() plus delete every row the copy put on the target (sharded and unsharded). */
  async cancel(): Promise<void> {
    await this.finish();
    await this.revealOnSource();
    const spec = this.#spec;
    const deleted = await withShard(spec.target, async (target) => {
      let total = 0;
      for (const table of spec.tables)
        total += await deleteRange(target, table, spec.from, spec.to, () => {});
      // Only once the copied rows are gone: revealing them first would show them twice.
      await revealRange(target, this.name, spec);
      return total;
    });
    this.#logger.info({ deleted }, "move cancelled: copied rows deleted from the target");
  }
}
