// Runs every offline deployment check (helm lint/template, kustomize overlays, Kubernetes
// schemas, policy, promtool, values schema, Dockerfile lint, registry) and exits 1 naming each
// failure. Usage: node packages/deploy-checks/scripts/check.ts   (or: pnpm deploy:check)
import { REPO_ROOT, runDeployChecks } from "@dbplane/deploy-checks";

const results = await runDeployChecks({ root: REPO_ROOT });
let failed = 0;
for (const result of results) {
  if (result.problems.length === 0) {
    process.stdout.write(`ok    ${result.name}\n`);
    continue;
  }
  failed++;
  process.stdout.write(`FAIL  ${result.name}\n`);
  for (const problem of result.problems)
    process.stdout.write(`      - ${problem.replaceAll("\n", "\n        ")}\n`);
}
process.stdout.write(`\n${results.length - failed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 ? 1 : 0;
