import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { it } from "vitest";
import { startWireWorld } from "./wire-world.ts";

const run = promisify(execFile);
it("perf", async () => {
  const wire = await startWireWorld(1, "perf", [
    { table: "pgbench_accounts", keyColumn: "aid", keyType: "integer" },
  ]);
  try {
    await run("pgbench", ["-i", "-s", "1", "-q"], { env: wire.libpqEnv });
    for (const mode of ["simple", "prepared"]) {
      const r = await run("pgbench", ["-S", "-M", mode, "-c", "8", "-j", "2", "-T", "5", "-n"], {
        env: wire.libpqEnv,
      });
      console.log(
        "router",
        mode,
        /tps = ([\d.]+)/.exec(r.stdout)?.[1],
        /latency average = ([\d.]+)/.exec(r.stdout)?.[1],
      );
      const url = new URL(wire.world.shards[0]!.db.url);
      const d = await run(
        "pgbench",
        [
          "-S",
          "-M",
          mode,
          "-c",
          "8",
          "-j",
          "2",
          "-T",
          "5",
          "-n",
          "-h",
          "127.0.0.1",
          "-U",
          "postgres",
          url.pathname.slice(1),
        ],
        { env: { ...process.env, PGPORT: "5432" } },
      );
      console.log("direct", mode, /tps = ([\d.]+)/.exec(d.stdout)?.[1]);
    }
  } finally {
    await wire.dispose();
  }
}, 120_000);
