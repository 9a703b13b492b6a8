// The chart's JWT secret (security review, Further): the kustomize dev overlay's public secret is
// refused by the chart; an existing Secret makes the chart create none, so a render without
// cluster access (helm template, Argo CD) cannot replace the key.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { HelmError, REPO_ROOT, renderChart } from "@dbplane/deploy-checks";
import { afterEach, describe, expect, it } from "vitest";
import { copyRepo, type RepoCopy } from "./repo-fixture.ts";

let copy: RepoCopy | undefined;
afterEach(() => copy?.dispose());

const DEV_SECRET = /DBPLANE_JWT_SECRET=(\S+)/.exec(
  readFileSync(join(REPO_ROOT, "k8s/overlays/dev/kustomization.yaml"), "utf8"),
)?.[1];

const render = (values: string) => {
  copy = copyRepo();
  copy.write("values-under-test.yaml", values);
  return renderChart(join(copy.root, "helm/dbplane"), {
    valuesFiles: [join(copy.root, "values-under-test.yaml")],
  });
};

describe("the chart's JWT secret", () => {
  it("refuses the dev overlay's public secret", () => {
    expect(DEV_SECRET).toBeDefined();
    const withDevSecret = () => render(`secrets:\n  jwtSecret: ${DEV_SECRET}\n`);
    expect(withDevSecret).toThrow(HelmError);
    expect(withDevSecret).toThrow(/public secret of the kustomize dev overlay/);
  });

  it("creates no Secret (and nothing to regenerate) with existingSecret; the pods read that one", () => {
    const objects = render("secrets:\n  existingSecret: from-vault\n");
    expect(objects.filter((o) => o.kind === "Secret" && o.metadata?.name?.endsWith("-secrets"))).toEqual([]);
    const provisioner = objects.find(
      (o) => o.kind === "Deployment" && o.metadata?.name === "dbplane-provisioner",
    );
    expect(JSON.stringify(provisioner)).toContain('"name":"from-vault"');
    expect(JSON.stringify(provisioner)).not.toContain("checksum/secret");
  });
});
