#!/usr/bin/env bash
# The HTML report in a real browser: a run recorded in a throw-away run store (the canonical
# runbook on the sandbox: polls and a node action), its report by run id, rendered by headless
# Chromium. Fails on any message the page logs to the console (the report's
# Content-Security-Policy turns an external asset or a script into one), on a DOM without a
# row per step or without the marks, and first proves it notices a page that breaks the
# policy. Saves the screenshot as target/browser/report.png.
#
#   bash tests/browser/report.sh            # CHROMIUM=/path/to/chromium to choose one
#
# Without Chromium it says so and exits 0; .ci/run installs Debian's `chromium` first.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

chromium="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
if [ -z "$chromium" ]; then
    echo "browser check skipped: no Chromium (apt-get install chromium)"
    exit 0
fi
target_dir="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --locked -p runbook-cli
bin="$target_dir/debug/runbook"
out="$target_dir/browser"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# render PAGE: the page's console lines (and Chromium's own log) into $work/console.txt, its DOM
# into $work/dom.html, its screenshot into $out/$(basename PAGE).png.
render() {
    local page="$1" shot="$out/$(basename "$1" .html).png"
    local flags=(--headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$work/profile"
        --enable-logging=stderr --v=0 --window-size=1280,1000)
    timeout 120 "$chromium" "${flags[@]}" --screenshot="$shot" "file://$page" \
        >/dev/null 2>"$work/chromium.log" || { cat "$work/chromium.log" >&2; return 1; }
    grep -F ':CONSOLE' "$work/chromium.log" >"$work/console.txt" || true
    timeout 120 "$chromium" "${flags[@]}" --dump-dom "file://$page" \
        >"$work/dom.html" 2>/dev/null
    [ -s "$shot" ] || { echo "no screenshot of $page" >&2; return 1; }
}

# The check must be able to fail: a page that loads an external image and runs a script.
cat >"$work/broken.html" <<'EOF'
<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"></head>
<body><img src="https://example.invalid/x.png"><script>document.title = "ran"</script></body></html>
EOF
render "$work/broken.html"
if [ "$(wc -l <"$work/console.txt")" -lt 2 ]; then
    echo "FAIL: the console check did not see the two refusals on a page that breaks the policy:" >&2
    cat "$work/chromium.log" >&2
    exit 1
fi

export HUAWEICLOUD_SDK_AK=SANDBOXAKEXAMPLE0001 HUAWEICLOUD_SDK_SK=sandbox-secret-key-0001
"$bin" run runbooks/canonical.yaml --sandbox --state-dir "$work/state" --log-format json \
    >/dev/null 2>"$work/run.log" || { cat "$work/run.log" >&2; exit 1; }
run_id="$("$bin" runs list --state-dir "$work/state" | awk 'NR == 1 {print $1}')"
"$bin" report "$run_id" --state-dir "$work/state" --format html -o "$work/report.html"
render "$work/report.html"

failed=0
if [ -s "$work/console.txt" ]; then
    echo "FAIL: the report logged to the console:" >&2
    cat "$work/console.txt" >&2
    failed=1
fi
steps="$(grep -c '^  - id:' runbooks/canonical.yaml)"
rows="$(grep -o 'class="row" data-step=' "$work/dom.html" | wc -l)"
if [ "$rows" -ne "$steps" ]; then
    echo "FAIL: the timeline has $rows rows, the runbook $steps steps" >&2
    failed=1
fi
for mark in poll node_action; do
    if ! grep -q "class=\"mark $mark\"" "$work/dom.html"; then
        echo "FAIL: no $mark on the timeline" >&2
        failed=1
    fi
done
if [ "$failed" -ne 0 ]; then
    cp "$work/report.html" "$out/report.html"
    echo "the report is kept at $out/report.html" >&2
    exit 1
fi
cp "$work/report.html" "$out/report.html"
echo "browser check passed: $rows steps, no console message; screenshot $out/report.png"
