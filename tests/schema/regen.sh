#!/bin/bash
# Regenerates definitions.pluginParams of dags/dag.schema.json from the
# bundled plugins' declared params. Run after changing a plugin's params:
#   bash tests/schema/regen.sh [BUILD_DIR]      (default: build)
set -euo pipefail
cd "$(dirname "$0")"
SRC=$(cd ../.. && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
[ -f node_modules/ajv/package.json ] && [ -f node_modules/yaml/package.json ] ||
  npm ci --no-audit --no-fund
TMP=$(mktemp)
trap 'rm -f "$TMP"' EXIT
COSTFLOW_PLUGIN_PATH="$BUILD/plugins" "$BUILD/bin/costflow" plugins list --json >"$TMP"
CF_SOURCE_DIR="$SRC" node dag-schema.mjs gen "$TMP"
