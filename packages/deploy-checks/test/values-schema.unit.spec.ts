import { readdirSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, validateValues } from "@dbplane/deploy-checks";
import { afterEach, describe, expect, it } from "vitest";
import { copyRepo, type RepoCopy } from "./repo-fixture.ts";

const chart = join(REPO_ROOT, "helm/dbplane");
let copy: RepoCopy | undefined;
afterEach(() => copy?.dispose());

describe("values.schema.json", () => {
  it("accepts values.yaml and every values file of the chart", () => {
    const files = [
      ...readdirSync(chart).filter((f) => /^values-.+\.yaml$/.test(f)),
      ...readdirSync(join(chart, "ci")).map((f) => `ci/${f}`),
    ].map((f) => join(chart, f));
    expect(files.length).toBeGreaterThanOrEqual(4);
    expect(validateValues(join(chart, "values.schema.json"), join(chart, "values.yaml"), files)).toEqual([]);
  });

  it("rejects a values file with a wrong type, an unknown key, a short grace period and a latest tag", () => {
    copy = copyRepo();
    copy.write(
      "helm/dbplane/values-broken.yaml",
      [
        "defaults:",
        "  replicas: two",
        "  terminationGracePeriodSeconds: 30",
        "services:",
        "  scheduler:",
        "    livenesProbe: {}",
        "    image: { tag: latest }",
      ].join("\n"),
    );
    const dir = join(copy.root, "helm/dbplane");
    const problems = validateValues(join(dir, "values.schema.json"), join(dir, "values.yaml"), [
      join(dir, "values-broken.yaml"),
    ]);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/values-broken\.yaml: \/defaults\/replicas must be integer/),
        expect.stringMatching(/\/defaults\/terminationGracePeriodSeconds must be >= 60/),
        expect.stringMatching(/\/services\/scheduler must NOT have additional properties \(livenesProbe\)/),
        expect.stringMatching(/\/services\/scheduler\/image\/tag must NOT be valid/),
      ]),
    );
  });
});
