const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const utf8 = new TextEncoder();

/**
 * 32-bit FNV-1a of the UTF-8 bytes of `key`. Stable across processes, versions and platforms,
 * which is all a partition function needs; ASCII keys (the usual aggregate ids) skip encoding.
 */
export function fnv1a32(key: string): number {
  let hash = FNV_OFFSET;
  let ascii = true;
  for (let i = 0; i < key.length; i++) {
    if (key.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    for (let i = 0; i < key.length; i++) {
      hash ^= key.charCodeAt(i);
      hash = Math.imul(hash, FNV_PRIME);
    }
  } else {
    for (const byte of utf8.encode(key)) {
      hash ^= byte;
      hash = Math.imul(hash, FNV_PRIME);
    }
  }
  return hash >>> 0;
}

/** The partition of an aggregate (the CloudEvents `subject`): FNV-1a modulo the partition count. */
export function partitionOf(aggregate: string, partitions: number): number {
  return fnv1a32(aggregate) % partitions;
}
