#!/usr/bin/env python3
"""The official Python SDK's side of bench/compare.sh, against `runbook sandbox serve`.

    sdk_bench.py chain URL N              # start one execution, read its status N times
    sdk_bench.py fanout URL N THREADS POLL_SECS
                                          # N items on a ThreadPoolExecutor(THREADS): each
                                          # starts an execution and polls it until it ends

The client is set up as tests/interop does it (endpoint kept as given, project id given so no
IAM lookup, no retries). Exits non-zero when any call fails or an execution does not succeed,
so a broken run cannot pass for a fast one.
"""

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from huaweicloudsdkaom.v1 import (
    AomClient,
    ExecuteWorkflowRequest,
    SearchWorkflowExecutionDetailRequest,
)
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
AK = "SANDBOXAKEXAMPLE0001"
SK = "sandbox-secret-key-0001"
WORKFLOW = "wf-bench"
# The AOM statuses after which nothing changes without someone acting.
FINAL = {"success", "fail", "cancel"}
DEADLINE_SECS = 600


def client(url):
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    config.timeout = (5, 30)
    return (
        AomClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(AK, SK, PROJECT))
        .with_endpoints([url])
        .build()
    )


def start(aom):
    return aom.execute_workflow(ExecuteWorkflowRequest(workflow_id=WORKFLOW)).execution_id


def status(aom, execution):
    request = SearchWorkflowExecutionDetailRequest(workflow_id=WORKFLOW, execution_id=execution)
    return aom.search_workflow_execution_detail(request).status


def chain(url, count):
    aom = client(url)
    execution = start(aom)
    for _ in range(count):
        status(aom, execution)


def fanout(url, count, threads, poll):
    # One client per worker thread, as a careful caller would: the SDK's session keeps one
    # connection pool per client, and sharing one across 100 threads would queue on it.
    local = threading.local()

    def item(_):
        aom = getattr(local, "aom", None)
        if aom is None:
            aom = local.aom = client(url)
        execution = start(aom)
        deadline = time.monotonic() + DEADLINE_SECS
        # The runbook's wait polls at once, then every `poll` (min = max: no backoff).
        while True:
            current = status(aom, execution)
            if current in FINAL:
                return current
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution} still {current}")
            time.sleep(poll)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = list(pool.map(item, range(count)))
    failed = [o for o in outcomes if o != "success"]
    if failed:
        raise SystemExit(f"{len(failed)} of {count} executions did not succeed: {failed[:3]}")


def main(argv):
    if len(argv) == 3 and argv[0] == "chain":
        chain(argv[1], int(argv[2]))
    elif len(argv) == 5 and argv[0] == "fanout":
        fanout(argv[1], int(argv[2]), int(argv[3]), float(argv[4]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
