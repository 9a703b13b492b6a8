/**
 * Runs the rest of a world's set-up; if it throws, disposes what was already started before
 * rethrowing. A test file whose `beforeAll` throws has no world to dispose in `afterAll`, so
 * without this the replicas and servers started before the failing step outlive the file (and
 * load every test file after it).
 */
export async function disposeOnFailure<T>(
  dispose: () => Promise<unknown>,
  setUp: () => Promise<T>,
): Promise<T> {
  try {
    return await setUp();
  } catch (err) {
    await dispose().catch(() => undefined);
    throw err;
  }
}
