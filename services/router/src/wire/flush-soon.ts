/**
 * Writes held back for one write per batch go out at the latest here: once per turn of the event
 * loop for every connection and session that has some, with one setImmediate between them all.
 * A busy loop handles many clients' chunks per turn (pgbench: several per epoll wake-up); an
 * immediate each, twice per transaction, cost more than the writes they usually find already done.
 */
const due = new Set<() => void>();
let scheduled = false;

/** Calls `flush` before the event loop next waits for I/O (once, however often asked). */
export function flushSoon(flush: () => void): void {
  due.add(flush);
  if (scheduled) return;
  scheduled = true;
  setImmediate(flushDue);
}

function flushDue(): void {
  scheduled = false;
  // Flushes asked for while these run (a write that ends a batch) wait for the next turn.
  const flushes = [...due];
  due.clear();
  for (const flush of flushes) flush();
}
