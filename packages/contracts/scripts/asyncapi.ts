/**
 * Writes docs/asyncapi.yaml from the message catalog. With `--check`, writes nothing and exits 1
 * when the checked-in file differs from what the catalog produces now (CI runs this).
 *
 *   pnpm asyncapi          regenerate
 *   pnpm asyncapi:check    verify
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { catalog, renderAsyncApiYaml } from "../src/index.ts";

const target = fileURLToPath(new URL("../../../docs/asyncapi.yaml", import.meta.url));
const expected = renderAsyncApiYaml(catalog);

if (process.argv.includes("--check")) {
  let current: string | undefined;
  try {
    current = readFileSync(target, "utf8");
  } catch {
    current = undefined;
  }
  if (current !== expected) {
    const what = current === undefined ? "is missing" : "is out of date with packages/contracts";
    console.error(`docs/asyncapi.yaml ${what}. Run \`pnpm asyncapi\` and commit the result.`);
    process.exit(1);
  }
  console.log(`docs/asyncapi.yaml is current (${catalog.length} messages).`);
} else {
  writeFileSync(target, expected);
  console.log(`wrote docs/asyncapi.yaml (${catalog.length} messages)`);
}
