export type { AccessProfile, InfrastructurePods } from "./access-policy.ts";
export { checkAccessPolicy } from "./access-policy.ts";
export { checkAlertRules, checkMetricsExposition, extractRuleGroups, testAlertRules } from "./alert-rules.ts";
export type { CheckResult } from "./check-result.ts";
export { runCheck, ToolUnavailableError } from "./check-result.ts";
export type { DeployCheckOptions } from "./deploy-checks.ts";
export { runDeployChecks } from "./deploy-checks.ts";
export { lintDockerfile } from "./dockerfile-lint.ts";
export { locateHelm, locateKubectl } from "./helm-binary.ts";
export type { RenderOptions } from "./helm-chart.ts";
export { HelmError, lintChart, renderChart } from "./helm-chart.ts";
export type { KubeObject } from "./kube-object.ts";
export { describeObject, ManifestParseError, parseManifests } from "./kube-object.ts";
export { validateAgainstSchemas } from "./kube-schema.ts";
export { KustomizeError, renderKustomization } from "./kustomize.ts";
export { checkKustomizeBaseCurrent, generateKustomizeBase, writeKustomizeBase } from "./kustomize-base.ts";
export {
  checkChartNatsUsers,
  checkNatsPermissionsCurrent,
  NATS_PERMISSIONS_FILE,
  natsPermissionsFile,
  renderedNatsUsers,
  writeNatsPermissionsFile,
} from "./nats-permissions-file.ts";
export { LAYOUT, REPO_ROOT } from "./repo-layout.ts";
export type { ServiceFolder } from "./service-registry.ts";
export { checkServiceRegistry, discoverServiceFolders } from "./service-registry.ts";
export { coalesceValues, validateValues } from "./values-schema.ts";
export type { PolicyProfile } from "./workload-policy.ts";
export { checkWorkloadPolicy, servicesIn } from "./workload-policy.ts";
