#!/bin/bash
# The examples a newcomer copies must keep working: the hello plugin and
# its DAG, and every reference DAG in dags/ validates.
. "$(dirname "$0")/lib.sh"
export COSTFLOW_PLUGIN_PATH="$CF_BUILD_DIR/examples/plugins:$CF_PLUGIN_DIR"
expect_exit 0 "hello example DAG validates" \
  "$COSTFLOW" dags validate "$CF_SOURCE_DIR/examples/hello_plugin/hello.yaml"
expect_exit 0 "hello example DAG runs" \
  "$COSTFLOW" run "$CF_SOURCE_DIR/examples/hello_plugin/hello.yaml" --date 2025-01-01
eq "greeting handed downstream" \
  "$(sql "SELECT value FROM task_outputs WHERE key='greeting'")" \
  "hello FinOps team, it is 2025-01-01"
export COSTFLOW_PLUGIN_PATH="$CF_PLUGIN_DIR"
expect_exit 2 "without the example folder on the path, hello is unknown" \
  "$COSTFLOW" dags validate "$CF_SOURCE_DIR/examples/hello_plugin/hello.yaml"
contains "and the error says so" "$(cat "$TMP/err")" "unknown plugin 'hello'"
for f in "$CF_SOURCE_DIR"/dags/*.yaml; do
  expect_exit 0 "reference DAG $(basename "$f") validates" "$COSTFLOW" dags validate "$f"
done
finish
