import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "@dbplane/deploy-checks";

/** A scratch copy of the deployment artefacts (not services' code) to break on purpose. */
export interface RepoCopy {
  readonly root: string;
  read(path: string): string;
  write(path: string, content: string): void;
  edit(path: string, from: string | RegExp, to: string): void;
  dispose(): void;
}

const ARTEFACTS = ["helm", "k8s", "tilt", "Tiltfile"];

export function copyRepo(): RepoCopy {
  const root = mkdtempSync(join(tmpdir(), "dbplane-deploy-"));
  for (const path of ARTEFACTS) cpSync(join(REPO_ROOT, path), join(root, path), { recursive: true });
  // Service folders: only what the registry check reads (package.json, main.ts).
  cpSync(join(REPO_ROOT, "services"), join(root, "services"), {
    recursive: true,
    filter: (src) => !src.includes("node_modules") && !src.includes("/test"),
  });
  const copy: RepoCopy = {
    root,
    read: (path) => readFileSync(join(root, path), "utf8"),
    write: (path, content) => writeFileSync(join(root, path), content),
    edit: (path, from, to) => {
      const before = copy.read(path);
      const after = before.replace(from, to);
      if (after === before) throw new Error(`${path}: nothing to replace for ${String(from)}`);
      copy.write(path, after);
    },
    dispose: () => rmSync(root, { recursive: true, force: true }),
  };
  return copy;
}
