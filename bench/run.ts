// `pnpm bench <name>`: runs bench/<name>/main.ts, which prints a table for people and then one
// `figure <name> <value>` line per figure (DESIGN.md, "Performance").
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const names = readdirSync(import.meta.dirname, { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(join(import.meta.dirname, e.name, "main.ts")))
  .map((e) => e.name);
const name = process.argv[2];
if (!name || !names.includes(name)) {
  process.stderr.write(`usage: pnpm bench <name> [args]\nbenchmarks: ${names.join(", ")}\n`);
  process.exit(64);
}
const child = spawn(
  process.execPath,
  [join(import.meta.dirname, name, "main.ts"), ...process.argv.slice(3)],
  {
    stdio: "inherit",
  },
);
child.on("exit", (code) => process.exit(code ?? 1));
