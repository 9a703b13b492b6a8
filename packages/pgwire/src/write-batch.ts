/**
 * The pieces of one write as one buffer. Relayed messages are views on the chunk they were read
 * in, so a batch of them is often one run of adjacent bytes: then the batch is a view spanning
 * them (no allocation, no copy), else a copy of the pieces joined.
 */
export function joinWrite(pieces: readonly Uint8Array[]): Uint8Array {
  const first = pieces[0]!;
  if (pieces.length === 1) return first;
  let end = first.byteOffset + first.byteLength;
  for (let i = 1; i < pieces.length; i++) {
    const piece = pieces[i]!;
    if (piece.buffer !== first.buffer || piece.byteOffset !== end) return Buffer.concat(pieces);
    end += piece.byteLength;
  }
  // A Buffer, not a bare Uint8Array: a socket's write would wrap the latter in one again.
  return Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}
