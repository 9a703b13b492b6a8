// The platform PostgreSQL as a CloudNativePG Cluster (platformPostgres.cloudnativepg): rendered
// only when asked, valid against CloudNativePG's own CRDs, backed up by its ScheduledBackup, and
// the services' DBPLANE_PG_URL read from the Cluster's -app Secret.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { HelmError, REPO_ROOT, renderChart } from "@dbplane/deploy-checks";
import { Ajv } from "ajv";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { copyRepo, type RepoCopy } from "./repo-fixture.ts";

let copy: RepoCopy | undefined;
afterEach(() => copy?.dispose());

const CNPG_VALUES = readFileSync(join(REPO_ROOT, "helm/dbplane/ci/platform-cnpg-values.yaml"), "utf8");
const render = (values: string) => {
  copy = copyRepo();
  copy.write("values-under-test.yaml", values);
  return renderChart(join(copy.root, "helm/dbplane"), {
    valuesFiles: [join(copy.root, "values-under-test.yaml")],
  });
};

/** CloudNativePG's CRD schema (the fixtures the provisioner's CloudNativePG tests use). */
function cnpgValidator(plural: string) {
  const file = join(
    REPO_ROOT,
    "services/provisioner/test/fixtures/cloudnativepg",
    `postgresql.cnpg.io_${plural}.yaml`,
  );
  const crd = parse(readFileSync(file, "utf8")) as {
    spec: { versions: { name: string; schema: { openAPIV3Schema: object } }[] };
  };
  const schema = crd.spec.versions.find((v) => v.name === "v1")?.schema.openAPIV3Schema ?? {};
  return new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
}

describe("the platform PostgreSQL as a CloudNativePG Cluster", () => {
  it("is off by default", () => {
    expect(render("{}\n").filter((o) => o.apiVersion === "postgresql.cnpg.io/v1")).toEqual([]);
  });

  it("renders a valid Cluster with WAL archiving and its ScheduledBackup; the services read its -app Secret", () => {
    const objects = render(CNPG_VALUES);
    const cluster = objects.find((o) => o.kind === "Cluster");
    const scheduled = objects.find((o) => o.kind === "ScheduledBackup");
    const validateCluster = cnpgValidator("clusters");
    const validateScheduled = cnpgValidator("scheduledbackups");
    expect(validateCluster(cluster), JSON.stringify(validateCluster.errors)).toBe(true);
    expect(validateScheduled(scheduled), JSON.stringify(validateScheduled.errors)).toBe(true);
    expect(cluster).toMatchObject({
      metadata: { name: "dbplane-platform-pg" },
      spec: {
        bootstrap: { initdb: { database: "dbplane", owner: "dbplane" } },
        backup: { barmanObjectStore: { destinationPath: "s3://platform-backups/dbplane" } },
      },
    });
    expect(scheduled).toMatchObject({
      spec: { cluster: { name: "dbplane-platform-pg" }, method: "barmanObjectStore" },
    });
    const provisioner = objects.find(
      (o) => o.kind === "Deployment" && o.metadata?.name === "dbplane-provisioner",
    );
    expect(JSON.stringify(provisioner)).toContain(
      '{"name":"DBPLANE_PG_URL","valueFrom":{"secretKeyRef":{"name":"dbplane-platform-pg-app","key":"uri"}}}',
    );
    expect(objects.some((o) => o.kind === "StatefulSet" && o.metadata?.name?.includes("postgresql"))).toBe(
      false,
    );
  });

  it("refuses both the subchart and the Cluster", () => {
    const both = () => render(CNPG_VALUES.replace("enabled: false", "enabled: true"));
    expect(both).toThrow(HelmError);
    expect(both).toThrow(/choose one platform PostgreSQL/);
  });
});
