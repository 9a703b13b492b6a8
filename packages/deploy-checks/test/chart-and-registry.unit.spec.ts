import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  checkKustomizeBaseCurrent,
  checkServiceRegistry,
  HelmError,
  lintChart,
  REPO_ROOT,
  renderChart,
} from "@dbplane/deploy-checks";
import { afterEach, describe, expect, it } from "vitest";
import { copyRepo, type RepoCopy } from "./repo-fixture.ts";

let copy: RepoCopy | undefined;
afterEach(() => copy?.dispose());

describe("chart, generated base and service registry", () => {
  it("the chart lints clean and the kustomize base is its current rendering", () => {
    expect(lintChart(join(REPO_ROOT, "helm/dbplane"))).toEqual([]);
    expect(checkKustomizeBaseCurrent(REPO_ROOT)).toEqual([]);
  });

  it("helm itself refuses values that break values.schema.json", () => {
    copy = copyRepo();
    copy.write("broken.yaml", "defaults:\n  terminationGracePeriodSeconds: 30\n");
    const render = () =>
      renderChart(join(copy!.root, "helm/dbplane"), { valuesFiles: [join(copy!.root, "broken.yaml")] });
    expect(render).toThrow(HelmError);
    expect(render).toThrow(/terminationGracePeriodSeconds/);
  });

  it("a chart change without regenerating the base is reported as stale", () => {
    copy = copyRepo();
    copy.edit("helm/dbplane/values.yaml", "preStopSleepSeconds: 5", "preStopSleepSeconds: 6");
    expect(checkKustomizeBaseCurrent(copy.root)).toEqual(
      expect.arrayContaining([expect.stringMatching(/k8s\/base\/.*differs from the chart's rendering/)]),
    );
  });

  it("every service folder is in the registries; a new one that is not is named everywhere", () => {
    expect(checkServiceRegistry(REPO_ROOT)).toEqual([]);
    copy = copyRepo();
    mkdirSync(join(copy.root, "services/billing/src"), { recursive: true });
    writeFileSync(join(copy.root, "services/billing/src/main.ts"), "");
    writeFileSync(
      join(copy.root, "services/billing/package.json"),
      JSON.stringify({ dbplane: { port: 7107 } }),
    );
    expect(checkServiceRegistry(copy.root)).toEqual([
      "services/billing: missing from helm/dbplane/values.yaml services:",
      "services/billing: missing from tilt/services.yaml",
      "overlay dev: images: lacks ghcr.io/dbplane/billing",
      "overlay staging: images: lacks ghcr.io/dbplane/billing",
      "overlay production: images: lacks ghcr.io/dbplane/billing",
    ]);
  });
});
