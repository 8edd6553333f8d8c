#!/usr/bin/env bash
# `runbook` against the official Python SDK and a bare HTTP loop, all talking to one
# `runbook sandbox serve` on loopback (bench/scenario.yaml), and the targets of issue 15 with
# PASS/FAIL. Each round runs every contender once, one after the other, so a machine that
# slows down mid-run slows all of them; the table holds medians over the rounds. The chain's
# floor and `runbook run` run twice a round, in mirrored order (floor, run, run, floor): the one
# that comes first after other work pays for the state that work left the CPUs in (after a
# pause the floor took 105 ms instead of 93; after busy CPUs, 88), and the floor,
# which mostly waits on the sandbox, pays far more for it than the run does.
#
#   bash bench/compare.sh        # ROUNDS=3 STEPS=1000 ITEMS=1000 THREADS=100 POLL_MS=200
#   SDK=0 bash bench/compare.sh  # without the Python SDK
#   INSTRUCTIONS=1 bash bench/compare.sh  # also the chain's instruction counts (valgrind)
#
# Contenders:
#   chain    start one execution, then STEPS status reads, one after the other:
#            `runbook run` (with its run store, as any run not on --sandbox has), the SDK
#            (one client), and the floor: crates/sandbox/examples/status_loop.rs, the same
#            signed requests on one keep-alive connection and nothing else;
#   fan-out  ITEMS executions started and each polled every POLL_MS until it ends: `runbook`
#            (for_each, concurrency 1000) and the SDK on a ThreadPoolExecutor(THREADS);
#   validate `runbook validate` of a 2·STEPS and a STEPS chain, and of runbooks/canonical.yaml
#            (start-up), each in a loop of VALIDATE_LOOPS processes so that a process's
#            start is measured many times over.
#
# "CPU" is user+sys of the client process, to the millisecond (bash's `times`: GNU time's
# %U and %S have 10 ms steps, too coarse for a run of 100 ms); its peak RSS comes from GNU
# time. The sandbox's own CPU over the same interval, read from /proc/PID/stat, is the
# separate "server CPU" column. The SDK runs in
# target/interop-venv (tests/interop/run.sh's), created here the same way when missing; with
# no python3 or no installable SDK its rows say so and the rest still runs. Nothing here is
# needed by `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

rounds="${ROUNDS:-3}"
steps="${STEPS:-1000}"
items="${ITEMS:-1000}"
threads="${THREADS:-100}"
poll_ms="${POLL_MS:-200}"
validate_loops="${VALIDATE_LOOPS:-10}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
venv="$root/target/interop-venv"
project=0a1b2c3d4e5f60718293a4b5c6d7e8f9
workflow=wf-bench

for tool in /usr/bin/time awk sort; do
    command -v "$tool" >/dev/null || { echo "error: $tool is needed" >&2; exit 2; }
done

echo "building (release)…" >&2
cargo build -q --release -p runbook-cli
cargo build -q --release -p hwc-sandbox --example status_loop
bin="$target_dir/release/runbook"
floor="$target_dir/release/examples/status_loop"

work="$(mktemp -d)"
server_pid=""
stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}
trap 'stop_server; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# --- the Python SDK, optional ---------------------------------------------------------------
sdk_skip=""
if [ "${SDK:-1}" = 0 ]; then
    sdk_skip="SDK=0"
elif ! command -v python3 >/dev/null; then
    sdk_skip="no python3"
else
    if [ ! -x "$venv/bin/python" ]; then
        echo "creating $venv (the interop tests' venv)…" >&2
        python3 -m venv "$venv" >"$work/venv.log" 2>&1 || sdk_skip="python3 -m venv failed"
    fi
    if [ -z "$sdk_skip" ] && ! "$venv/bin/python" -c 'import huaweicloudsdkaom' 2>/dev/null; then
        "$venv/bin/python" -m pip install -q --disable-pip-version-check \
            -r tests/interop/requirements.txt </dev/null >>"$work/venv.log" 2>&1 \
            || sdk_skip="the SDK could not be installed: $(tail -1 "$work/venv.log")"
    fi
fi
python="$venv/bin/python"

# --- the runbooks --------------------------------------------------------------------------
chain() { # chain N FILE: the chain of bench/journal.sh, on this scenario's workflow
    {
        echo "version: 1"
        echo "name: chain"
        echo "steps:"
        echo "  - id: start"
        echo "    aom.start: {workflow_id: $workflow}"
        for i in $(seq 1 "$1"); do
            echo "  - id: s$i"
            echo "    call: {operation: SearchWorkflowExecutionDetail, params: {workflow_id: $workflow, execution_id: \"{{ steps.start.execution_id }}\"}}"
        done
    } >"$2"
}
chain "$steps" "$work/chain.yaml"
chain "$((steps * 2))" "$work/chain2.yaml"
cat >"$work/fanout.yaml" <<EOF
version: 1
name: fanout
steps:
  - id: start_all
    for_each: "{{ range($items) | list }}"
    concurrency: 1000
    aom.start: {workflow_id: $workflow}
  - id: wait_all
    for_each: "{{ steps.start_all }}"
    concurrency: 1000
    timeout: 10m
    aom.wait:
      workflow_id: "{{ item.workflow_id }}"
      execution_id: "{{ item.execution_id }}"
      # min = max: a fixed delay, the SDK side's time.sleep.
      poll: {min: ${poll_ms}ms, max: ${poll_ms}ms}
EOF
for book in chain chain2 fanout; do
    "$bin" validate "$work/$book.yaml" >/dev/null
done

# --- the sandbox ---------------------------------------------------------------------------
# A thousand concurrent items hold up to a thousand connections on each side.
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 8192 ] || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
: >"$work/serve.out" # the background job opens it only once it runs
"$bin" sandbox serve --listen 127.0.0.1:0 --scenario bench/scenario.yaml \
    >"$work/serve.out" 2>"$work/serve.err" </dev/null &
server_pid=$!
url=""
for _ in $(seq 1 300); do
    url="$(sed -n 's/^sandbox listening on \(http:[^ ]*\)$/\1/p' "$work/serve.out")"
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "error: runbook sandbox serve did not start:" >&2
    cat "$work/serve.out" "$work/serve.err" >&2
    exit 1
fi

export HUAWEICLOUD_SDK_AK=SANDBOXAKEXAMPLE0001 HUAWEICLOUD_SDK_SK=sandbox-secret-key-0001
run_args=(--endpoint "$url" --region cn-north-4 --project-id "$project" --log-format json
    --state-dir "$work/state")

# --- measuring -----------------------------------------------------------------------------
tick_ms=$(awk -v hz="$(getconf CLK_TCK)" 'BEGIN {print 1000 / hz}')
server_cpu_ms() { # utime + stime of the sandbox; the fields after the command name
    sed 's/^.*) //' "/proc/$server_pid/stat" | awk -v t="$tick_ms" '{print ($12 + $13) * t}'
}

# The user+sys CPU in ms of this shell's finished children, from what `times` wrote to FILE.
# `times` must run in this shell itself, with nothing started between it and the command
# measured: a subshell's `times` counts only its own children.
children_cpu_ms() {
    awk 'NR == 2 {
        split($1, u, /[ms]/); split($2, s, /[ms]/)
        printf "%.0f", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1000
    }' "$1"
}

# measure ROW CMD...: runs CMD under GNU time, appends "wall_ms cpu_ms rss_kib server_ms" to
# $work/ROW; a failing contender stops the script with its output, a broken run is no result.
measure() {
    local row=$1 s0 s1 t0 t1 c0 c1
    shift
    s0=$(server_cpu_ms)
    t0=$(date +%s%N)
    times >"$work/times0.out"
    if ! /usr/bin/time -f '%M' -o "$work/time.out" "$@" >"$work/out.log" 2>&1; then
        echo "error: $row failed ($*):" >&2
        tail -n 20 "$work/out.log" >&2
        exit 1
    fi
    times >"$work/times1.out"
    t1=$(date +%s%N)
    s1=$(server_cpu_ms)
    c0=$(children_cpu_ms "$work/times0.out")
    c1=$(children_cpu_ms "$work/times1.out")
    awk -v wall="$(( (t1 - t0) / 1000 ))" -v cpu="$((c1 - c0))" \
        -v s="$(awk -v a="$s0" -v b="$s1" 'BEGIN {print b - a}')" \
        '{printf "%.1f %d %d %.0f\n", wall / 1000, cpu, $1, s}' \
        "$work/time.out" >>"$work/$row"
    rm -rf "$work/state"
}

# K runs of a command in one process tree, so one GNU time sees them all: loop K CMD...
# shellcheck disable=SC2016 # expanded by the inner bash
loop=(bash -c 'k=$1; shift; for ((i = 0; i < k; i++)); do "$@" >/dev/null; done' _)

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$rounds"); do
    echo "round $round of $rounds…" >&2
    measure floor "$floor" "$url" "$steps" "$workflow"
    measure run "$bin" run "$work/chain.yaml" "${run_args[@]}"
    measure run "$bin" run "$work/chain.yaml" "${run_args[@]}"
    measure floor "$floor" "$url" "$steps" "$workflow"
    [ -n "$sdk_skip" ] || measure sdk "$python" bench/sdk_bench.py chain "$url" "$steps"
    measure run2 "$bin" run "$work/chain2.yaml" "${run_args[@]}"
    measure validate "${loop[@]}" "$validate_loops" "$bin" validate "$work/chain.yaml"
    measure validate2 "${loop[@]}" "$validate_loops" "$bin" validate "$work/chain2.yaml"
    measure startup "${loop[@]}" "$validate_loops" "$bin" validate runbooks/canonical.yaml
    measure fan_run "$bin" run "$work/fanout.yaml" "${run_args[@]}"
    [ -n "$sdk_skip" ] || measure fan_sdk "$python" bench/sdk_bench.py fanout "$url" \
        "$items" "$threads" "$(awk -v p="$poll_ms" 'BEGIN {print p / 1000}')"
done

# --- the report ----------------------------------------------------------------------------
median() { # median ROW COLUMN
    awk -v c="$2" '{print $c}' "$work/$1" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}
per_loop() { awk -v v="$1" -v k="$validate_loops" 'BEGIN {printf "%.1f", v / k}'; }

declare -A wall cpu rss server
for row in floor run sdk run2 validate validate2 startup fan_run fan_sdk; do
    [ -s "$work/$row" ] || continue
    wall[$row]=$(median "$row" 1)
    cpu[$row]=$(median "$row" 2)
    rss[$row]=$(awk -v k="$(median "$row" 3)" 'BEGIN {printf "%.1f", k / 1024}')
    server[$row]=$(median "$row" 4)
done
for row in validate validate2 startup; do
    wall[$row]=$(per_loop "${wall[$row]}")
    cpu[$row]=$(per_loop "${cpu[$row]}")
    server[$row]="-"
done

cores=$(nproc)
model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo
echo "bench/compare.sh, $(date -u +%Y-%m-%d), $cores cores (${model:-unknown CPU}), $(uname -sr)"
# A shared machine's other work shows here; every figure is only as good as this.
echo "load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "medians of $rounds rounds (the chain's floor and run: of $((rounds * 2)), twice a round);"
echo "sandbox: runbook sandbox serve --scenario bench/scenario.yaml"
echo "(wf-bench: one node of 500 ms, real time); CPU = user+sys of the client process;"
echo "server CPU = the sandbox's over the same interval"
echo
row() { # row LABEL KEY [SKIPPED]
    if [ -n "${3:-}" ]; then
        printf '  %-46s skipped (%s)\n' "$1" "$3"
    else
        local server_cpu="${server[$2]} ms"
        [ "${server[$2]}" != - ] || server_cpu="-"
        printf '  %-46s %9s ms %9s ms %7s MiB %12s\n' "$1" "${wall[$2]}" "${cpu[$2]}" "${rss[$2]}" "$server_cpu"
    fi
}
printf '  %-46s %12s %12s %11s %12s\n' "" wall CPU "peak RSS" "server CPU"
row "chain $steps: bare signed HTTP loop (floor)" floor
row "chain $steps: runbook run" run
row "chain $steps: Python SDK, one client" sdk "$sdk_skip"
row "chain $((steps * 2)): runbook run" run2
row "fan-out $items: runbook run (concurrency 1000)" fan_run
row "fan-out $items: Python SDK, $threads threads" fan_sdk "$sdk_skip"
row "validate, $steps-step chain (per process)" validate
row "validate, $((steps * 2))-step chain (per process)" validate2
row "validate runbooks/canonical.yaml (start-up)" startup

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "inf"}'; }
# Each round times the floor and the chain one after the other, twice (floor then run, run then
# floor), so a slow or a fast moment of a shared machine touches both: the spread of these pairs'
# own ratios shows how far the chain's verdict (the ratio of the medians) can be trusted.
paired_ratios() { # paired_ratios ROW BASE: median, first and third quartile of ROW's wall / BASE's
    paste -d' ' <(awk '{print $1}' "$work/$1") <(awk '{print $1}' "$work/$2") |
        awk '$2 > 0 {print $1 / $2}' | sort -g | awk '{a[NR] = $1} END {
            printf "%.2f %.2f %.2f", a[int((NR + 1) / 2)], a[int((NR + 3) / 4)], a[int((3 * NR + 3) / 4)] }'
}
# target LABEL VALUE OP LIMIT UNIT: OP is le or ge (lt counts as le: the figures are rounded)
target() {
    local verdict sign=≤
    [ "$3" = ge ] && sign=≥
    verdict=$(awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN {
        ok = (op == "ge") ? (v >= l) : (v <= l); print ok ? "PASS" : "FAIL" }')
    printf '  %-4s  %-52s %9s %-3s (target %s %s %s)\n' "$verdict" "$1" "$2" "$5" "$sign" "$4" "$5"
}
skipped() { printf '  %-4s  %-52s skipped (%s)\n' "-" "$1" "$2"; }

echo
echo "targets (issue 15)"
target "chain $steps: runbook wall / floor wall" "$(ratio "${wall[run]}" "${wall[floor]}")" le 1.5 "×"
read -r round_median round_q1 round_q3 <<<"$(paired_ratios run floor)"
printf '  %-4s  %-52s %9s %-3s (quartiles %s–%s, %s pairs)\n' "" \
    "chain $steps: the pairs' own ratios, median" "$round_median" "×" "$round_q1" "$round_q3" "$((rounds * 2))"
if [ -n "$sdk_skip" ]; then
    skipped "chain $steps: SDK CPU / runbook CPU" "$sdk_skip"
else
    target "chain $steps: SDK CPU / runbook CPU" "$(ratio "${cpu[sdk]}" "${cpu[run]}")" ge 3 "×"
fi
target "run: CPU of $((steps * 2)) steps / CPU of $steps" "$(ratio "${cpu[run2]}" "${cpu[run]}")" le 2.2 "×"
target "validate: CPU of $((steps * 2)) steps / CPU of $steps" "$(ratio "${cpu[validate2]}" "${cpu[validate]}")" le 2.2 "×"
target "validate a $((steps * 2))-step runbook: wall" "${wall[validate2]}" le 50 "ms"
if [ -n "$sdk_skip" ]; then
    skipped "fan-out $items: SDK wall / runbook wall" "$sdk_skip"
else
    target "fan-out $items: SDK wall / runbook wall" "$(ratio "${wall[fan_sdk]}" "${wall[fan_run]}")" ge 1.5 "×"
fi
target "fan-out $items: runbook peak RSS" "${rss[fan_run]}" le 40 "MiB"
target "validate start-up (canonical.yaml): wall" "${wall[startup]}" le 10 "ms"
target "validate start-up (canonical.yaml): peak RSS" "${rss[startup]}" le 10 "MiB"

# --- instructions, on demand ---------------------------------------------------------------
# A shared machine moves wall and CPU figures by 20% and more; the number of instructions the
# client executes (callgrind, user space only) does not, so two builds compare to the percent.
# Kernel time (the sockets) is not in it, and valgrind runs the client about 50× slower.
if [ "${INSTRUCTIONS:-0}" = 1 ]; then
    echo
    if ! command -v valgrind >/dev/null; then
        echo "instructions: skipped (no valgrind)"
        exit 0
    fi
    instructions() { # instructions CMD...: the Ir total of one callgrind run
        valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" "$@" \
            >"$work/out.log" 2>"$work/valgrind.log" || {
            echo "error: callgrind of $* failed:" >&2
            tail -n 20 "$work/valgrind.log" >&2
            exit 1
        }
        sed -n 's/^==[0-9]*== Collected : //p' "$work/valgrind.log"
    }
    floor_ir=$(instructions "$floor" "$url" "$steps" "$workflow")
    run_ir=$(instructions "$bin" run "$work/chain.yaml" "${run_args[@]}")
    rm -rf "$work/state"
    echo "instructions (callgrind), chain $steps:"
    printf '  %-46s %14s\n' "bare signed HTTP loop (floor)" "$floor_ir"
    printf '  %-46s %14s  (%s× the floor)\n' "runbook run" "$run_ir" "$(ratio "$run_ir" "$floor_ir")"
fi
