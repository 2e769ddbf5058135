#!/bin/bash
# Installs the Debian 12 packages costflow needs to build, test and run.
# Skips apt when everything is already there (so a developer machine is not
# touched); CI always installs. Needs root (or sudo).
set -euo pipefail
PKGS=(build-essential cmake pkg-config libuv1-dev libyaml-dev libsqlite3-dev
      libcurl4-openssl-dev libjansson-dev libarchive-dev libssl-dev
      zlib1g-dev libhttp-parser-dev sqlite3 jq tzdata curl python3
      procps                      # ps: tests/integration/test-orphan-group.sh
      clang libclang-rt-14-dev    # clang + libFuzzer: tests/fuzz/run.sh
      chromium)                   # headless browser: tests/integration/test-web-ui.sh
# Node.js + npm drive the browser test (playwright-core), the DAG schema
# test (ajv, yaml) and the DuckDB benchmark peer; Debian's packages only when no Node is installed, so a
# vendor Node (e.g. NodeSource) is never replaced.
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
if [ "${CI:-}" = true ] || [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${PKGS[@]}" >/dev/null
fi
