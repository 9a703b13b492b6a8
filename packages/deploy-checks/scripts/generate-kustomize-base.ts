// Renders helm/dbplane into k8s/base (the kustomize base holds the same objects as the chart).
import { REPO_ROOT, writeKustomizeBase } from "@dbplane/deploy-checks";

for (const file of writeKustomizeBase(REPO_ROOT)) process.stdout.write(`wrote ${file}\n`);
