#!/usr/bin/env bash
# `runbook report --format junit` against the JUnit schema (tests/junit/junit.xsd), with
# xmllint (Debian's libxml2-utils): the reports of a run that succeeded, of one that failed, and
# of a recorded run by its id; and first, that the check refuses documents the schema does not
# allow. Without xmllint it says so and exits 0; .ci/run installs libxml2-utils first.
#
#   bash tests/junit/validate.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

if ! command -v xmllint >/dev/null; then
    echo "JUnit schema check skipped: no xmllint (apt-get install libxml2-utils)"
    exit 0
fi
schema="$root/tests/junit/junit.xsd"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --locked -p runbook-cli
bin="$target_dir/debug/runbook"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

valid() { xmllint --noout --schema "$schema" "$1" 2>"$work/xmllint.err"; }

# The check must be able to fail: a test case without a name, a count that is no number.
printf '%s\n' '<testsuites><testsuite name="s" tests="1"><testcase classname="c"/></testsuite></testsuites>' >"$work/nameless.xml"
printf '%s\n' '<testsuites><testsuite name="s" tests="many"/></testsuites>' >"$work/uncounted.xml"
for wrong in nameless uncounted; do
    if valid "$work/$wrong.xml"; then
        echo "FAIL: the schema accepted $wrong.xml" >&2
        exit 1
    fi
done

export HUAWEICLOUD_SDK_AK=SANDBOXAKEXAMPLE0001 HUAWEICLOUD_SDK_SK=sandbox-secret-key-0001
run() { "$bin" run runbooks/canonical.yaml --sandbox --log-format json --output json "$@" 2>/dev/null || true; }
run >"$work/succeeded.json"
run -i workflow=wf-broken -i 'optional_nodes=[]' >"$work/failed.json"
run --state-dir "$work/state" >/dev/null
run_id="$("$bin" runs list --state-dir "$work/state" | awk 'NR == 1 {print $1}')"

"$bin" report "$work/succeeded.json" --format junit -o "$work/succeeded.xml"
"$bin" report "$work/failed.json" --format junit -o "$work/failed.xml"
"$bin" report "$run_id" --state-dir "$work/state" --format junit -o "$work/recorded.xml"
grep -q '<failure' "$work/failed.xml" || { echo "FAIL: the failed run's report has no failure" >&2; exit 1; }
for report in succeeded failed recorded; do
    if ! valid "$work/$report.xml"; then
        echo "FAIL: the $report run's JUnit report breaks the schema:" >&2
        cat "$work/xmllint.err" "$work/$report.xml" >&2
        exit 1
    fi
done
echo "JUnit schema check passed: 3 reports valid, 2 wrong documents refused"
