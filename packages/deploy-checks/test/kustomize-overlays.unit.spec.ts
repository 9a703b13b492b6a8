import { join } from "node:path";
import {
  discoverServiceFolders,
  KustomizeError,
  REPO_ROOT,
  renderKustomization,
  servicesIn,
  validateAgainstSchemas,
} from "@dbplane/deploy-checks";
import { afterEach, describe, expect, it } from "vitest";
import { copyRepo, type RepoCopy } from "./repo-fixture.ts";

let copy: RepoCopy | undefined;
afterEach(() => copy?.dispose());

const serviceNames = discoverServiceFolders(REPO_ROOT)
  .map((f) => f.name)
  .sort();

describe("kustomize overlays", () => {
  it.each(["dev", "staging", "production"])("%s renders and validates", async (overlay) => {
    const objects = renderKustomization(join(REPO_ROOT, "k8s/overlays", overlay));
    expect([...servicesIn(objects).keys()].sort()).toEqual(serviceNames);
    expect(await validateAgainstSchemas(objects)).toEqual([]);
  });

  it("an overlay with a typo in a resource path does not render", () => {
    copy = copyRepo();
    copy.edit("k8s/overlays/staging/kustomization.yaml", "../../base", "../../bsae");
    expect(() => renderKustomization(join(copy!.root, "k8s/overlays/staging"))).toThrow(KustomizeError);
  });

  it("an overlay with a typo in a patched field renders but fails schema validation", async () => {
    copy = copyRepo();
    copy.edit("k8s/overlays/dev/kustomization.yaml", "path: /spec/replicas", "path: /spec/replcas");
    const objects = renderKustomization(join(copy.root, "k8s/overlays/dev"));
    expect(await validateAgainstSchemas(objects)).toEqual(
      serviceNames.map((name) =>
        expect.stringMatching(new RegExp(`Deployment/dbplane-${name}: spec\\.replcas: unknown field`)),
      ),
    );
  });
});
