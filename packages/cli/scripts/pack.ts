// Builds the CLI into a package `npm i -g` can install: one bundle (rolldown) with everything it
// imports, so the tarball has no dependencies and no TypeScript (Node does not strip types under
// node_modules). Usage: ./scripts/pnpm --filter @dbplane/cli pack:global [out-dir]
//   → <out-dir>/dbplane-cli-<version>.tgz, then: npm i -g <out-dir>/dbplane-cli-<version>.tgz
import { execFileSync } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { build } from "rolldown";

const cliRoot = resolve(import.meta.dirname, "..");
const outDir = resolve(process.argv[2] ?? join(cliRoot, "dist-pack"));
const staging = join(outDir, "package");

const source = JSON.parse(await readFile(join(cliRoot, "package.json"), "utf8")) as {
  version: string;
  description: string;
};
await rm(staging, { recursive: true, force: true });
await mkdir(staging, { recursive: true });
await build({
  input: join(cliRoot, "src/main.ts"),
  platform: "node",
  logLevel: "warn",
  output: { dir: join(staging, "dist"), format: "esm", minify: true },
});
// main.ts reads its version from ../package.json: the staged one, next to dist/.
await writeFile(
  join(staging, "package.json"),
  `${JSON.stringify(
    {
      name: "@dbplane/cli",
      version: source.version,
      description: source.description,
      type: "module",
      bin: { dbplane: "dist/main.js" },
      files: ["dist"],
      engines: { node: ">=20.11" },
    },
    null,
    2,
  )}\n`,
);
const tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", outDir], {
  cwd: staging,
  encoding: "utf8",
}).trim();
process.stdout.write(`${join(outDir, tarball)}\n`);
