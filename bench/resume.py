#!/usr/bin/env python3
"""What resuming costs: a run of STEPS finished steps, suspended (SIGTERM) at its last step,
resumed by the same command ROUNDS times. Release build, in-process sandbox in real time.

Reported per round (medians):
  resume  from the first line the process logs to its `run_resumed` line: opening the store,
          taking the lock, reading the journal, replaying it and restoring the state;
  process from spawning `runbook` to its `run_resumed` line.

    python3 bench/resume.py            # STEPS=1000 ROUNDS=7 to change
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime

STEPS = int(os.environ.get("STEPS", "1000"))
ROUNDS = int(os.environ.get("ROUNDS", "7"))
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def ts(event):
    return datetime.fromisoformat(event["ts"].replace("Z", "+00:00")[:26] + "+00:00")


def run_until_last_step(binary, book, state):
    """Runs (or resumes) until the last step starts, then suspends it; returns the log."""
    began = time.monotonic()
    child = subprocess.Popen(
        [binary, "run", book, "--sandbox", "--real-time", "--state-dir", state,
         "--log-format", "json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    events, resumed_after = [], None
    for line in child.stderr:
        event = json.loads(line)
        events.append(event)
        if event["event"] == "run_resumed":
            resumed_after = time.monotonic() - began
        if event["event"] == "step_started" and event["step"] == "last":
            child.terminate()
    code = child.wait()
    if code != 75:
        sys.exit(f"expected exit 75 (suspended), got {code}: {events[-3:]}")
    return events, resumed_after


def main():
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "runbook-cli"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target", "release", "runbook")
    with tempfile.TemporaryDirectory() as work:
        book = os.path.join(work, "chain.yaml")
        with open(book, "w") as f:
            f.write("version: 1\nname: chain\nsteps:\n")
            for i in range(STEPS):
                f.write(f"  - id: s{i}\n    set: {{n{i % 10}: {i}}}\n")
            f.write("  - id: last\n    sleep: 1h\n")
        state = os.path.join(work, "state")
        run_until_last_step(binary, book, state)
        resume_ms, process_ms = [], []
        for _ in range(ROUNDS):
            events, after = run_until_last_step(binary, book, state)
            resumed = next(e for e in events if e["event"] == "run_resumed")
            if resumed["step"] != "last":
                sys.exit(f"resumed at {resumed['step']}, not at the last step")
            resume_ms.append((ts(resumed) - ts(events[0])).total_seconds() * 1000)
            process_ms.append(after * 1000)
    print(f"{STEPS} finished steps, {ROUNDS} rounds (medians):")
    print(f"  resume  (store, lock, journal, replay): {statistics.median(resume_ms):7.1f} ms")
    print(f"  process (spawn to run_resumed):         {statistics.median(process_ms):7.1f} ms")


if __name__ == "__main__":
    main()
