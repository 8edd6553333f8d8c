#!/usr/bin/env bash
# What the run store costs: a 1,000-step read-only chain (one status read per step) against
# the in-process sandbox, with and without the journal (--state-dir), and `runbook validate`
# start-up (it never opens the store). Release build; medians of ROUNDS alternating runs.
# With RUNBOOK_TEST_POSTGRES set (a throw-away server's URL), also with the journal there.
#
#   bash bench/journal.sh            # ROUNDS=5 STEPS=1000 to change
#   bash scripts/with-postgres.sh bash bench/journal.sh   # with PostgreSQL too
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${ROUNDS:-5}"
steps="${STEPS:-1000}"
cargo build -q --release -p runbook-cli
bin=target/release/runbook
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

book="$work/chain.yaml"
{
    echo "version: 1"
    echo "name: chain"
    echo "steps:"
    echo "  - id: start"
    echo "    aom.start: {workflow_id: wf-success}"
    for i in $(seq 1 "$steps"); do
        echo "  - id: s$i"
        echo "    call: {operation: SearchWorkflowExecutionDetail, params: {workflow_id: wf-success, execution_id: \"{{ steps.start.execution_id }}\"}}"
    done
} >"$book"

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

pg="${RUNBOOK_TEST_POSTGRES:-}"
plain=(); journaled=(); shared=(); validate=()
for round in $(seq 1 "$rounds"); do
    t0=$(now); "$bin" run "$book" --sandbox --log-format json >/dev/null 2>&1; t1=$(now)
    plain+=($(( (t1 - t0) / 1000000 )))
    rm -rf "$work/state"
    t0=$(now); "$bin" run "$book" --sandbox --state-dir "$work/state" --log-format json >/dev/null 2>&1; t1=$(now)
    journaled+=($(( (t1 - t0) / 1000000 )))
    if [ -n "$pg" ]; then
        t0=$(now); "$bin" run "$book" --sandbox --store "$pg" --log-format json >/dev/null 2>&1; t1=$(now)
        shared+=($(( (t1 - t0) / 1000000 )))
    fi
    t0=$(now); for _ in $(seq 1 20); do "$bin" validate runbooks/canonical.yaml >/dev/null; done; t1=$(now)
    validate+=($(( (t1 - t0) / 20000 )))
done
p=$(printf '%s\n' "${plain[@]}" | median)
j=$(printf '%s\n' "${journaled[@]}" | median)
v=$(printf '%s\n' "${validate[@]}" | median)
events=$("$bin" runs --state-dir "$work/state" logs "$("$bin" runs --state-dir "$work/state" list --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])' 2>/dev/null || true)" --log-format json 2>/dev/null | wc -l || true)
echo "chain of $steps reads, median of $rounds:"
echo "  without the store:  ${p} ms"
echo "  with the journal:   ${j} ms  ($(( (j - p) * 1000 / (p > 0 ? p : 1) ))‰ slower; ${events} journal entries)"
if [ -n "$pg" ]; then
    s=$(printf '%s\n' "${shared[@]}" | median)
    echo "  with PostgreSQL:    ${s} ms  ($(( (s - p) * 1000 / (p > 0 ? p : 1) ))‰ slower; a Unix socket on this host)"
fi
echo "  runbook validate:   ${v} µs per run (canonical.yaml; the store is not opened)"
echo "  store size:         $(du -sh "$work/state" | cut -f1)"
