# One image recipe for every dbplane service; the service is a build argument:
#   docker build --build-arg SERVICE=scheduler -t ghcr.io/dbplane/scheduler .
# SERVICE names a folder under services/ (discovery, provisioner, router, scheduler,
# projection-coordinator, collector); the build stops at once without it.
#
# Why not `pnpm deploy`: our workspace packages export TypeScript (./src/index.ts) that Node runs
# by type stripping, and Node refuses to strip types under node_modules
# (ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING). `pnpm deploy` copies workspace dependencies INTO
# node_modules, so the deployed service cannot import them. Instead we install a pruned copy of
# the workspace (this service and the workspace packages it depends on, production dependencies
# only): node_modules/@dbplane/* stay symlinks to packages/*, whose real paths are outside
# node_modules, exactly as in development.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim
ARG SERVICE

FROM ${NODE_IMAGE} AS build
ARG SERVICE
ENV PNPM_HOME=/pnpm CI=true
ENV PATH=$PNPM_HOME:$PATH
RUN npm install --global --no-fund --no-audit pnpm@10.34.9
WORKDIR /app
# The store is filled from the lockfile alone, so this layer survives source edits.
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json ./
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store pnpm fetch --prod
COPY . .
RUN test -n "${SERVICE}" && test -f "services/${SERVICE}/src/main.ts" \
    || { echo "build with --build-arg SERVICE=<a folder under services/>, got '${SERVICE}'" >&2; exit 1; }
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store \
    pnpm install --offline --frozen-lockfile --prod --filter-prod "@dbplane/${SERVICE}..."
# Copy only the selected workspace packages (package.json, src, node_modules, the
# projection-coordinator's static console/) to /out: no tests,
# no other services, no dev dependencies.
RUN mkdir -p /out \
    && cp -a node_modules /out/node_modules \
    && for dir in $(pnpm --filter-prod "@dbplane/${SERVICE}..." list --depth -1 --parseable); do \
         rel="${dir#/app/}"; mkdir -p "/out/$rel"; \
         cp -a "$dir/package.json" "$dir/src" "/out/$rel/"; \
         if [ -d "$dir/node_modules" ]; then cp -a "$dir/node_modules" "/out/$rel/"; fi; \
         if [ -d "$dir/console" ]; then cp -a "$dir/console" "/out/$rel/"; fi; \
       done

# Tilt's live_update target: the pruned workspace, writable by the node user, restarted by
# `node --watch` when a synced file changes.
FROM build AS dev
ARG SERVICE
RUN chown -R node:node /app
USER node
WORKDIR /app/services/${SERVICE}
STOPSIGNAL SIGTERM
CMD ["node", "--watch", "src/main.ts"]

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
# Root-owned and read-only to the service: the pod runs with a read-only root filesystem and
# the only writable path is the /tmp emptyDir.
COPY --from=build /out /app
WORKDIR /app/services/${SERVICE}
USER node
EXPOSE 8080
# Node exits cleanly on SIGTERM via service-kit's shutdown (readiness 503, drain, close).
STOPSIGNAL SIGTERM
CMD ["node", "src/main.ts"]
