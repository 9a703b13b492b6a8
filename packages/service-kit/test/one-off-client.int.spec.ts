import { testServerUrls } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { connectClient, withClient } from "../src/one-off-client.ts";

const url = testServerUrls().postgres;
const admin = new pg.Pool({ connectionString: url, max: 1 });
afterAll(() => admin.end());

/** Ends `pid`'s session from another connection, as a server shutting down or failing over would. */
async function terminate(pid: number): Promise<void> {
  await admin.query("SELECT pg_terminate_backend($1)", [pid]);
}

describe("one-off clients", () => {
  it("a connection the server ends between two queries fails the next query, not the process", async () => {
    // Unheard, the client's `error` event is an uncaught exception: vitest fails the run on it.
    const outcome = withClient({ connectionString: url }, async (client) => {
      const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      // The server's FATAL reaches the idle client (its socket closes) before the next query.
      // Listened for first: the client can see its end before `terminate`'s own answer arrives.
      const ended = new Promise((resolve) => client.once("end", resolve));
      await terminate(rows[0]!.pid);
      await ended;
      await client.query("SELECT 1");
    });
    await expect(outcome).rejects.toThrow();
  });

  it("a connect the server refuses rejects with its SQLSTATE", async () => {
    const elsewhere = new URL(url);
    elsewhere.pathname = "/dbplane_no_such_database";
    await expect(connectClient({ connectionString: elsewhere.href })).rejects.toMatchObject({
      code: "3D000",
    });
  });

  it("a server that is not there rejects the connect (and nothing waits on the failed client)", async () => {
    await expect(withClient({ host: "127.0.0.1", port: 1 }, async () => "ran")).rejects.toMatchObject({
      code: "ECONNREFUSED",
    });
  });
});
