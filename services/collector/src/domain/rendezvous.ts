/**
 * Rendezvous (highest-random-weight) hashing: each target goes to the member with the highest
 * weight hash(member, target). Adding a member moves only the targets it now wins (about
 * 1/(n+1) of them); removing one moves only its own targets. No ring, no virtual nodes.
 */

/** 32-bit FNV-1a followed by murmur3's finalizer, which FNV alone lacks for short keys. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Weight of `member` for `target`; ties (rare) are broken by member id so every leader agrees. */
function weight(member: string, target: string): number {
  return hash32(`${member}\u0000${target}`);
}

/** The member that owns `target`, or undefined when there are no members. */
export function ownerOf(target: string, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const member of members) {
    const w = weight(member, target);
    if (w > bestWeight || (w === bestWeight && best !== undefined && member < best)) {
      best = member;
      bestWeight = w;
    }
  }
  return best;
}

/** Every target's owner, as member → sorted target ids (members with none get an empty list). */
export function assignTargets(targets: readonly string[], members: readonly string[]): Map<string, string[]> {
  const owned = new Map<string, string[]>(members.map((m) => [m, []]));
  for (const target of targets) {
    const owner = ownerOf(target, members);
    if (owner !== undefined) owned.get(owner)?.push(target);
  }
  for (const list of owned.values()) list.sort();
  return owned;
}

/** How many targets have a different owner in `after` than in `before` (new and removed targets excluded). */
export function movedTargets(
  before: ReadonlyMap<string, readonly string[]>,
  after: ReadonlyMap<string, readonly string[]>,
): number {
  const ownerBefore = new Map<string, string>();
  for (const [member, targets] of before) for (const t of targets) ownerBefore.set(t, member);
  let moved = 0;
  for (const [member, targets] of after) {
    for (const t of targets) {
      const previous = ownerBefore.get(t);
      if (previous !== undefined && previous !== member) moved++;
    }
  }
  return moved;
}
