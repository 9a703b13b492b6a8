/**
 * Writes the env table of every services/<name>/README.md (between `<!-- env:begin -->` and
 * `<!-- env:end -->`) from that service's config schema in services/<name>/src/config.ts. With
 * `--check`, writes nothing and exits 1 naming every table that is out of date (CI runs this).
 *
 *   pnpm env-docs          regenerate
 *   pnpm env-docs:check    verify
 *
 * The schema is the module's `configSchema` export (a zod object, refined or not, or a transform
 * of one); a module without it must export exactly one zod object schema, which is taken instead.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type EnvSchema, envSchemaIn, envTableDrift, withEnvTable } from "../src/env-docs.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const check = process.argv.includes("--check");

function schemaOf(module: Record<string, unknown>, where: string): EnvSchema {
  const named = envSchemaIn(module.configSchema);
  if (named) return named;
  const candidates = Object.entries(module).flatMap(([name, value]) => {
    const schema = envSchemaIn(value);
    return schema ? [{ name, schema }] : [];
  });
  const [only] = candidates;
  if (candidates.length === 1 && only) return only.schema;
  const found = candidates.length === 0 ? "none" : candidates.map(({ name }) => name).join(", ");
  throw new Error(
    `${where}: export the config schema as \`configSchema\` (zod object exports found: ${found})`,
  );
}

const services = readdirSync(join(root, "services"), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(root, "services", entry.name, "src/config.ts")))
  .map((entry) => entry.name)
  .sort();

const problems: string[] = [];
for (const service of services) {
  const configPath = join(root, "services", service, "src/config.ts");
  const readmePath = join(root, "services", service, "README.md");
  const schema = schemaOf(await import(pathToFileURL(configPath).href), `services/${service}/src/config.ts`);
  const readme = existsSync(readmePath) ? readFileSync(readmePath, "utf8") : "";
  const where = `services/${service}/README.md`;
  if (check) {
    for (const problem of envTableDrift(readme, schema)) problems.push(`${where}: ${problem}`);
    continue;
  }
  try {
    writeFileSync(readmePath, withEnvTable(readme, schema));
    console.log(`wrote the env table of ${where}`);
  } catch (err) {
    problems.push(`${where}: ${(err as Error).message}`);
  }
}

if (problems.length > 0) {
  console.error(problems.join("\n"));
  if (check) console.error("Run `pnpm env-docs` and commit the result.");
  process.exit(1);
}
if (check) console.log(`the env tables of ${services.length} service READMEs are current.`);
