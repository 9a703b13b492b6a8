/** Names of every Redis key the collectors share, under one prefix (tests isolate by prefix). */
export interface CoordinationKeys {
  /** Sorted set: member id → last heartbeat (Redis server time, ms). */
  readonly members: string;
  /** Hash: member id → JSON of where it runs (host, pid, started). */
  readonly memberInfo: string;
  /** String with a PX TTL: the leader's lease token. */
  readonly leader: string;
  /** Counter: epoch of the newest assignment (the fencing token). */
  readonly epoch: string;
  /** String: JSON of the newest assignment's summary (epoch, leader, members' counts). */
  readonly assignment: string;
  /** Hash: target id → owning member in the newest assignment. */
  readonly owners: string;
  /** String per member: JSON `{epoch, targets}` of its share of the newest assignment. */
  owned(member: string): string;
  /** Hash: target id → TargetSpec JSON (no passwords). */
  readonly targets: string;
  /** Sorted set of target ids, all score 0, for paging in id order. */
  readonly targetIds: string;
  /** Counter bumped on every change of the target set. */
  readonly targetsVersion: string;
  /** Hash: target id → JSON of its last sample. */
  readonly samples: string;
  /** Hash: target id → JSON of its health (state, reason, since, epoch). */
  readonly health: string;
}

export function coordinationKeys(prefix: string): CoordinationKeys {
  return {
    members: `${prefix}members`,
    memberInfo: `${prefix}member-info`,
    leader: `${prefix}leader`,
    epoch: `${prefix}epoch`,
    assignment: `${prefix}assignment`,
    owners: `${prefix}owners`,
    owned: (member) => `${prefix}owned:${member}`,
    targets: `${prefix}targets`,
    targetIds: `${prefix}target-ids`,
    targetsVersion: `${prefix}targets-version`,
    samples: `${prefix}samples`,
    health: `${prefix}health`,
  };
}
