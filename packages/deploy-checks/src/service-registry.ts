import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { field } from "./kube-object.ts";
import { LAYOUT } from "./repo-layout.ts";
import { readValues } from "./values-schema.ts";

/** A service as its folder declares it. */
export interface ServiceFolder {
  readonly name: string;
  readonly dir: string;
  /** Local development port (package.json `dbplane.port`). */
  readonly port: number | undefined;
}

/** Every folder under services/ with a src/main.ts: the services that exist. */
export function discoverServiceFolders(root: string): ServiceFolder[] {
  const dir = join(root, LAYOUT.services);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, "src/main.ts")))
    .sort()
    .map((name) => {
      const pkgFile = join(dir, name, "package.json");
      const pkg = existsSync(pkgFile)
        ? (JSON.parse(readFileSync(pkgFile, "utf8")) as { dbplane?: { port?: number } })
        : {};
      return { name, dir: join(dir, name), port: pkg.dbplane?.port };
    });
}

function keys(value: unknown): string[] {
  return value && typeof value === "object" ? Object.keys(value) : [];
}

/**
 * Every service folder appears in every registry, and no registry names a service that has no
 * folder: the chart's values.yaml (`services:`, with `localPort` = package.json dbplane.port),
 * each overlay's `images:` and Tilt's tilt/services.yaml (same port). (Images come from the
 * one root Dockerfile, `--build-arg SERVICE=<folder>`.)
 * (That each overlay *renders* the service's objects is checked on the rendering.)
 */
export function checkServiceRegistry(root: string): string[] {
  const problems: string[] = [];
  const folders = discoverServiceFolders(root);
  const names = new Set(folders.map((f) => f.name));
  if (folders.length === 0) problems.push("no service folder with src/main.ts under services/");

  const values = readValues(join(root, LAYOUT.chart, "values.yaml"));
  const registry = String(field(values, "image", "registry"));
  const chartServices = (field(values, "services") ?? {}) as Record<string, unknown>;
  const tilt = (parse(readFileSync(join(root, LAYOUT.tiltRegistry), "utf8")) ?? {}) as {
    services?: Record<string, { port?: number }>;
  };
  const tiltServices = tilt.services ?? {};

  for (const folder of folders) {
    const at = `services/${folder.name}`;
    if (!(folder.name in chartServices))
      problems.push(`${at}: missing from helm/dbplane/values.yaml services:`);
    else if (field(chartServices[folder.name], "localPort") !== folder.port) {
      problems.push(`${at}: values.yaml localPort differs from package.json dbplane.port (${folder.port})`);
    }
    if (!(folder.name in tiltServices)) problems.push(`${at}: missing from ${LAYOUT.tiltRegistry}`);
    else if (tiltServices[folder.name]?.port !== folder.port) {
      problems.push(
        `${at}: ${LAYOUT.tiltRegistry} port differs from package.json dbplane.port (${folder.port})`,
      );
    }
  }
  for (const name of keys(chartServices)) {
    if (!names.has(name)) problems.push(`values.yaml services.${name}: no services/${name}/src/main.ts`);
  }
  for (const name of keys(tiltServices)) {
    if (!names.has(name)) problems.push(`${LAYOUT.tiltRegistry} ${name}: no services/${name}/src/main.ts`);
  }
  for (const overlay of LAYOUT.overlayNames) {
    const file = join(root, LAYOUT.overlays, overlay, "kustomization.yaml");
    const kustomization = parse(readFileSync(file, "utf8")) as { images?: { name: string }[] };
    const images = new Set((kustomization.images ?? []).map((i) => i.name));
    for (const name of names) {
      if (!images.has(`${registry}/${name}`))
        problems.push(`overlay ${overlay}: images: lacks ${registry}/${name}`);
    }
    for (const image of images) {
      const name = image.slice(registry.length + 1);
      if (image.startsWith(`${registry}/`) && !names.has(name)) {
        problems.push(`overlay ${overlay}: images: names ${image}, which has no service folder`);
      }
    }
  }
  return problems;
}
