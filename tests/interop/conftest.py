"""Starts the sandbox binary once for the whole session and hands its URL to the tests.

Builds nothing: `run.sh` builds the binary first. `RUNBOOK_BIN` names it (default
`target/debug/runbook` under the repository root).
"""

import os
import re
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECS = 30
STOP_TIMEOUT_SECS = 15
URL_LINE = re.compile(r"^sandbox listening on (http://\S+)\s*$")


def _runbook_bin() -> Path:
    configured = os.environ.get("RUNBOOK_BIN")
    path = Path(configured) if configured else Path("target/debug/runbook")
    return path if path.is_absolute() else REPO_ROOT / path


@pytest.fixture(scope="session")
def sandbox_url():
    binary = _runbook_bin()
    if not binary.is_file():
        pytest.fail(f"sandbox binary {binary} is missing; run `cargo build -p runbook-cli` first")
    stderr_log = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        [str(binary), "sandbox", "serve", "--listen", "127.0.0.1:0"],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr_log,
        text=True,
    )

    # Read the first line on a thread so a silent binary cannot hang the session.
    first_line = []
    got_line = threading.Event()
    rest = []

    def pump():
        for index, line in enumerate(process.stdout):
            if index == 0:
                first_line.append(line)
                got_line.set()
            else:
                rest.append(line)
        got_line.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    got_line.wait(STARTUP_TIMEOUT_SECS)

    def stop():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_SECS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                pytest.fail("the sandbox did not stop within 15 s of SIGTERM")
        reader.join(5)

    def log():
        stderr_log.seek(0)
        return f"stdout: {''.join(first_line + rest)!r}\nstderr: {stderr_log.read()!r}"

    match = URL_LINE.match(first_line[0]) if first_line else None
    if match is None:
        stop()
        pytest.fail(f"the sandbox did not print its URL first\n{log()}")

    yield match.group(1)

    stop()
    assert process.returncode == 0, f"sandbox exited with {process.returncode}\n{log()}"
    stderr_log.close()
