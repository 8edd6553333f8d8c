#!/usr/bin/env bash
# Proves the official Huawei Cloud Python SDK talks to the sandbox unchanged.
# Creates target/interop-venv when missing, builds the CLI, runs the pytest suite.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/target/interop-venv"

cd "$root"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt" </dev/null

cargo build -q -p runbook-cli </dev/null

export RUNBOOK_BIN="${RUNBOOK_BIN:-$root/target/debug/runbook}"
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$here" </dev/null
