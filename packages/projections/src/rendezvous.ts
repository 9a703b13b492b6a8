import { createHash } from "node:crypto";

/** A live replica and the projection versions its code can run (`name@version`). */
export interface LiveMember {
  readonly id: string;
  readonly capabilities: readonly string[];
  /** Where a joining member's read-ahead starts for each unit it expects, by `unitId`. */
  readonly readAhead?: Readonly<Record<string, number>>;
}

/** A work unit: one partition of one generation of a projection. */
export interface UnitKey {
  readonly projection: string;
  readonly generation: number;
  readonly partition: number;
}

export function unitId(key: UnitKey): string {
  return `${key.projection}/${key.generation}/${key.partition}`;
}

function score(member: string, unit: string): bigint {
  return createHash("sha1").update(member).update("\0").update(unit).digest().readBigUInt64BE(0);
}

/**
 * Rendezvous (highest-random-weight) hashing: every replica computes the same owner from the
 * same member list, with no coordination round, and a join or leave moves only the units whose
 * top-scoring member changed (about 1/n of them) — the rest never pause.
 * Only members whose code runs `capability` (`name@version`) are candidates.
 */
export function desiredOwner(
  key: UnitKey,
  capability: string,
  members: readonly LiveMember[],
): string | undefined {
  const unit = unitId(key);
  let best: string | undefined;
  let bestScore = -1n;
  for (const m of members) {
    if (!m.capabilities.includes(capability)) continue;
    const s = score(m.id, unit);
    if (s > bestScore || (s === bestScore && best !== undefined && m.id < best)) {
      best = m.id;
      bestScore = s;
    }
  }
  return best;
}
