#!/usr/bin/env bash
# The project's test command: `bash scripts/test.sh [cargo test arguments]`.
#
# `cargo test --workspace --locked "$@"` with a throw-away PostgreSQL server (the shared run
# store's tests need one; scripts/with-postgres.sh starts and stops it).
#
#   bash scripts/test.sh                                   # everything
#   bash scripts/test.sh -p runbook-store --test sqlite_store
set -euo pipefail

# `--workspace` overrides `-p`, so it is only the default when no package is named.
scope=(--workspace)
for arg in "$@"; do
  case $arg in
    --) break ;;
    -p | -p?* | --package | --package=* | --manifest-path | --manifest-path=*) scope=() ;;
  esac
done

exec bash "$(dirname "${BASH_SOURCE[0]}")/with-postgres.sh" cargo test "${scope[@]}" --locked "$@"
