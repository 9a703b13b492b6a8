import { KEYSPACE_END, KEYSPACE_MIN } from "@dbplane/sharding";

/** A shard's half-open ranges of the signed 64-bit keyspace, bounds as decimal strings. */
export interface ShardRanges {
  readonly shard: number;
  readonly ranges: readonly { readonly from: string; readonly to: string }[];
  /** Drawn in red on a terminal when not up. */
  readonly down?: boolean;
}

const SPAN = KEYSPACE_END - KEYSPACE_MIN;
const COLOURS = [36, 33, 35, 34, 32, 96, 93, 95];

/** `0`…`9`, then `a`…`z`: one character per shard; `·` where no shard owns the keyspace. */
const mark = (shard: number) => (shard < 36 ? shard.toString(36) : "#");

/**
 * The keyspace from -2^63 to 2^63 as `width` cells, each showing the shard owning the hash at
 * its middle, so a split shows as a range halving and a shard owning nothing has no cell.
 */
export function keyspaceBar(shards: readonly ShardRanges[], width = 64, colour = false): string {
  const owners = shards.flatMap((s) => s.ranges.map((r) => ({ s, from: BigInt(r.from), to: BigInt(r.to) })));
  let bar = "";
  for (let i = 0; i < width; i++) {
    const middle = KEYSPACE_MIN + (SPAN * BigInt(2 * i + 1)) / BigInt(2 * width);
    const owner = owners.find((o) => o.from <= middle && middle < o.to)?.s;
    if (!owner) bar += "·";
    else if (!colour) bar += mark(owner.shard);
    else {
      const code = owner.down ? 41 : COLOURS[owner.shard % COLOURS.length];
      bar += `\x1b[${code}m${mark(owner.shard)}\x1b[0m`;
    }
  }
  const scale = `-2^63${" ".repeat(Math.max(1, Math.floor(width / 2) - 5))}0${" ".repeat(Math.max(1, Math.ceil(width / 2) - 5))}2^63`;
  return `keyspace |${bar}|\n          ${scale}`;
}
