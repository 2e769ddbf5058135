#!/bin/bash
# dags/dag.schema.json against the C loader (see dag-schema.mjs): the
# bundled plugins' params, every sample DAG, the malformed corpus. Needs
# Node and npm; the npm packages (ajv, yaml) come from package-lock.json.
set -euo pipefail
: "${COSTFLOW:?COSTFLOW must point at the costflow binary}"
: "${CF_SOURCE_DIR:?CF_SOURCE_DIR must point at the repository}"
: "${CF_PLUGIN_DIR:?CF_PLUGIN_DIR must point at the bundled plugins}"
DIR="$CF_SOURCE_DIR/tests/schema"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cf-schema.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "FAIL node and npm are needed (.ci/install-deps.sh)"; exit 1; }
if [ ! -f "$DIR/node_modules/ajv/package.json" ] ||
   [ ! -f "$DIR/node_modules/yaml/package.json" ]; then
  (cd "$DIR" && npm ci --no-audit --no-fund) >"$TMP/npm.log" 2>&1 ||
    { echo "FAIL npm ci in tests/schema"; tail "$TMP/npm.log"; exit 1; }
fi

# The bundled plugins only: their params are generated into the schema.
COSTFLOW_PLUGIN_PATH="$CF_PLUGIN_DIR" "$COSTFLOW" plugins list --json \
  >"$TMP/plugins.json"
# The sample DAGs also use the test plugins and the example plugin.
export COSTFLOW_PLUGIN_PATH="$CF_PLUGIN_DIR:${CF_TEST_PLUGIN_DIR:-}:${CF_BUILD_DIR:-}/examples/plugins"
exec node "$DIR/dag-schema.mjs" check "$TMP/plugins.json"
