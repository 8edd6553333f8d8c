"""The official Huawei Cloud Python SDK against the sandbox, unchanged.

Every one of the eleven operations goes through the SDK's own client classes and request
models; answers are read back through the SDK's response models, and errors through its typed
exceptions. The sandbox runs on real time here, so the tests poll with short sleeps.
"""

import calendar
import re
import time

import pytest
from huaweicloudsdkaom.v1 import (
    AomClient,
    ExecuteWorkflowRequest,
    ExecuteWorkflowResponse,
    ExecutionResultList,
    ListWorkflowExecutionsRequest,
    ListWorkflowExecutionsResponse,
    SearchWorkflowExecutionDetailRequest,
    SearchWorkflowExecutionDetailResponse,
    StartPausingWorkflowExecutionsRequest,
    StartPausingWorkflowExecutionsResponse,
    StopExecutionRequest,
    StopExecutionResponse,
    WorkflowExecutionBrief,
)
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.region.region import Region
from huaweicloudsdkfunctiongraph.v2 import (
    CallbackWorkflowRequestBody,
    CreateCallbackWorkflowRequest,
    CreateCallbackWorkflowResponse,
    FlowExecuteBody,
    FlowExecutionBrief,
    FunctionGraphClient,
    NodeExecution,
    NodeExecutionDetail,
    ShowWorkflowExecutionRequest,
    ShowWorkflowExecutionResponse,
    StartSyncWorkflowExecutionRequest,
    StartSyncWorkflowExecutionResponse,
    StartWorkflowExecutionRequest,
    StartWorkflowExecutionResponse,
    StopWorkFlowRequest,
    StopWorkFlowResponse,
    SyncExecutionNodeErrorDetail,
)
from huaweicloudsdkfunctiongraph.v2 import (
    ListWorkflowExecutionsRequest as ListFlowExecutionsRequest,
    ListWorkflowExecutionsResponse as ListFlowExecutionsResponse,
)

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
AK = "SANDBOXAKEXAMPLE0001"
SK = "sandbox-secret-key-0001"
OTHER_PROJECT = "ffffffffffffffffffffffffffffffff"
OTHER_AK = "SANDBOXAKOTHERPROJECT"
OTHER_SK = "sandbox-secret-key-other"

POLL_TIMEOUT_SECS = 10.0
POLL_INTERVAL_SECS = 0.2


def _config() -> HttpConfig:
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    config.timeout = (5, 30)
    return config


def _build(client_class, url, ak=AK, sk=SK, project=PROJECT):
    # An endpoint that starts with "http" is kept as it is by ClientBuilder.build(); anything
    # else gets "https://" put in front. Giving project_id means no IAM lookup is made.
    return (
        client_class.new_builder()
        .with_http_config(_config())
        .with_credentials(BasicCredentials(ak, sk, project))
        .with_endpoints([url])
        .build()
    )


@pytest.fixture(scope="session")
def aom(sandbox_url):
    return _build(AomClient, sandbox_url)


@pytest.fixture(scope="session")
def fg(sandbox_url):
    return _build(FunctionGraphClient, sandbox_url)


def _error(excinfo):
    error = excinfo.value
    assert isinstance(error, ClientRequestException), type(error)
    assert error.request_id, "the SDK should read X-Request-Id into request_id"
    return error.status_code, error.error_code, error.error_msg


# --- AOM helpers -------------------------------------------------------------------------


def start_aom(aom, workflow):
    response = aom.execute_workflow(ExecuteWorkflowRequest(workflow_id=workflow))
    assert isinstance(response, ExecuteWorkflowResponse)
    assert response.status_code == 200
    assert response.execution_id
    return response.execution_id


def aom_detail(aom, workflow, execution):
    detail = aom.search_workflow_execution_detail(
        SearchWorkflowExecutionDetailRequest(workflow_id=workflow, execution_id=execution)
    )
    assert isinstance(detail, SearchWorkflowExecutionDetailResponse)
    assert (detail.workflow_id, detail.execution_id) == (workflow, execution)
    assert detail.project_id == PROJECT
    for node in detail.execution_result_list:
        assert isinstance(node, ExecutionResultList)
    return detail


def wait_aom(aom, workflow, execution, status):
    deadline = time.monotonic() + POLL_TIMEOUT_SECS
    while True:
        detail = aom_detail(aom, workflow, execution)
        if detail.status == status:
            return detail
        assert time.monotonic() < deadline, f"{workflow} never reached {status}: {detail}"
        time.sleep(POLL_INTERVAL_SECS)


def operate(aom, workflow, execution, action, node):
    response = aom.start_pausing_workflow_executions(
        StartPausingWorkflowExecutionsRequest(
            workflow_id=workflow, execution_id=execution, action=action, node_id=node
        )
    )
    assert isinstance(response, StartPausingWorkflowExecutionsResponse)
    assert response.status_code == 200
    assert response.result == "success"
    return response


def nodes(detail):
    return [(n.node_id, n.status) for n in detail.execution_result_list]


# --- AOM state paths ---------------------------------------------------------------------


def test_flaky_fails_then_restart_succeeds(aom):
    execution = start_aom(aom, "wf-flaky")
    detail = aom_detail(aom, "wf-flaky", execution)
    assert detail.status == "executing"
    assert nodes(detail) == [("prepare", "executing")]
    assert isinstance(detail.begin_time, int) and detail.end_time is None

    failed = wait_aom(aom, "wf-flaky", execution, "fail")
    assert nodes(failed) == [("prepare", "success"), ("migrate", "fail")]
    migrate = failed.execution_result_list[1]
    assert "failed (attempt 1)" in migrate.output["error"]
    first_attempt = migrate.function_execution_id
    # Opaque, as the service's are: nothing of the execution or the node shows in it.
    assert re.fullmatch(r"[0-9a-f]{32}", first_attempt), first_attempt

    operate(aom, "wf-flaky", execution, "restart", "migrate")
    done = wait_aom(aom, "wf-flaky", execution, "success")
    assert nodes(done) == [("prepare", "success"), ("migrate", "success"), ("finish", "success")]
    assert done.execution_result_list[1].output == {"migrated": 3}
    second_attempt = done.execution_result_list[1].function_execution_id
    assert re.fullmatch(r"[0-9a-f]{32}", second_attempt) and second_attempt != first_attempt
    assert done.end_time >= done.begin_time
    assert done.approve_user_name_list == []


def test_broken_node_is_skipped(aom):
    execution = start_aom(aom, "wf-broken")
    wait_aom(aom, "wf-broken", execution, "fail")
    operate(aom, "wf-broken", execution, "skip", "optional-cleanup")
    done = wait_aom(aom, "wf-broken", execution, "success")
    assert nodes(done) == [
        ("prepare", "success"),
        ("optional-cleanup", "skipped"),
        ("finish", "success"),
    ]


def test_pause_waits_for_continue(aom):
    execution = start_aom(aom, "wf-pause")
    paused = wait_aom(aom, "wf-pause", execution, "pausing")
    assert nodes(paused) == [("prepare", "success"), ("gate", "pausing")]
    operate(aom, "wf-pause", execution, "continue", "gate")
    done = wait_aom(aom, "wf-pause", execution, "success")
    assert nodes(done) == [("prepare", "success"), ("gate", "success"), ("finish", "success")]


def test_approval_waits_for_continue(aom):
    execution = start_aom(aom, "wf-approval")
    waiting = wait_aom(aom, "wf-approval", execution, "waitApproval")
    assert nodes(waiting) == [("approve", "waitApproval")]
    operate(aom, "wf-approval", execution, "continue", "approve")
    wait_aom(aom, "wf-approval", execution, "success")


# --- AOM errors --------------------------------------------------------------------------


def test_wrong_secret_key_is_401(sandbox_url):
    forged = _build(AomClient, sandbox_url, sk="not-the-secret")
    with pytest.raises(ClientRequestException) as excinfo:
        forged.execute_workflow(ExecuteWorkflowRequest(workflow_id="wf-success"))
    assert _error(excinfo) == (401, "AOM.31009004", "auth failed.")


def test_other_projects_credentials_are_refused_and_isolated(sandbox_url):
    intruder = _build(AomClient, sandbox_url, ak=OTHER_AK, sk=OTHER_SK, project=PROJECT)
    with pytest.raises(ClientRequestException) as excinfo:
        intruder.execute_workflow(ExecuteWorkflowRequest(workflow_id="wf-success"))
    assert _error(excinfo) == (403, "AOM.31009004", "auth failed.")

    home = _build(AomClient, sandbox_url, ak=OTHER_AK, sk=OTHER_SK, project=OTHER_PROJECT)
    assert home.execute_workflow(ExecuteWorkflowRequest(workflow_id="wf-other")).execution_id
    with pytest.raises(ClientRequestException) as excinfo:
        home.execute_workflow(ExecuteWorkflowRequest(workflow_id="wf-success"))
    assert _error(excinfo)[:2] == (404, "AOM.31001306")


def test_unknown_workflow_is_404(aom):
    with pytest.raises(ClientRequestException) as excinfo:
        aom.execute_workflow(ExecuteWorkflowRequest(workflow_id="no-such-workflow"))
    assert _error(excinfo) == (404, "AOM.31001306", "workflow not exist.")


def test_unknown_execution_is_404(aom):
    with pytest.raises(ClientRequestException) as excinfo:
        aom.search_workflow_execution_detail(
            SearchWorkflowExecutionDetailRequest(workflow_id="wf-success", execution_id="missing")
        )
    assert _error(excinfo) == (404, "AOM.31001307", "execution not exist.")

    with pytest.raises(ClientRequestException) as excinfo:
        operate(aom, "wf-pause", "missing", "continue", "gate")
    assert _error(excinfo) == (404, "AOM.31001307", "execution not exist.")


def test_action_that_does_not_fit_the_node_is_400(aom):
    execution = start_aom(aom, "wf-pause")
    wait_aom(aom, "wf-pause", execution, "pausing")
    with pytest.raises(ClientRequestException) as excinfo:
        operate(aom, "wf-pause", execution, "restart", "gate")
    status, code, message = _error(excinfo)
    assert (status, code) == (400, "AOM.31001403")
    assert "takes continue" in message

    with pytest.raises(ClientRequestException) as excinfo:
        operate(aom, "wf-pause", execution, "continue", "prepare")
    status, code, message = _error(excinfo)
    assert (status, code) == (400, "AOM.31001403")
    assert "not the current node" in message

    # An action outside the enum: the SDK does not check it, the sandbox does.
    with pytest.raises(ClientRequestException) as excinfo:
        operate(aom, "wf-pause", execution, "explode", "gate")
    status, code, message = _error(excinfo)
    assert (status, code) == (400, "AOM.31001403")
    assert "restart, skip, continue" in message

    # The refusals changed nothing.
    assert aom_detail(aom, "wf-pause", execution).status == "pausing"


def test_region_with_http_endpoint_also_works(sandbox_url):
    client = (
        AomClient.new_builder()
        .with_http_config(_config())
        .with_credentials(BasicCredentials(AK, SK, PROJECT))
        .with_region(Region("sandbox", sandbox_url))
        .build()
    )
    assert start_aom(client, "wf-success")


# --- FunctionGraph -----------------------------------------------------------------------


def sync_run(fg, workflow, payload):
    response = fg.start_sync_workflow_execution(
        StartSyncWorkflowExecutionRequest(workflow_id=workflow, body=FlowExecuteBody(input=payload))
    )
    assert isinstance(response, StartSyncWorkflowExecutionResponse)
    assert response.status_code == 200
    assert response.execution_id
    assert response.begin_time and response.end_time
    return response


def test_sync_echo_fail_and_timeout(fg):
    began = time.monotonic()
    echo = sync_run(fg, "fg-echo", {"order": 7, "items": ["a", "b"]})
    # A sync run answers when it ends: fg-echo runs for 1 s.
    assert time.monotonic() - began >= 0.9
    assert _seconds(echo.end_time) - _seconds(echo.begin_time) in (1, 2)
    assert echo.status == "success"
    assert echo.output == {"echo": {"order": 7, "items": ["a", "b"]}, "workflow_id": "fg-echo"}
    assert echo.errors is None
    assert echo.begin_time.endswith("Z") and "T" in echo.begin_time

    failed = sync_run(fg, "fg-fail", {"order": 8})
    assert failed.status == "fail"
    assert len(failed.errors) == 1
    error = failed.errors[0]
    assert isinstance(error, SyncExecutionNodeErrorDetail)
    assert (error.node_id, error.error_message) == ("process", "the function returned an error")

    timed_out = sync_run(fg, "fg-timeout", {})
    assert timed_out.status == "timeout"
    assert timed_out.output is None


def _seconds(fg_time):
    return calendar.timegm(time.strptime(fg_time, "%Y-%m-%dT%H:%M:%SZ"))


def test_an_input_that_is_no_object_is_refused(fg):
    # The SDK sends whatever it is given; the service takes an object only.
    for payload in ["text", [1, 2]]:
        with pytest.raises(ClientRequestException) as excinfo:
            sync_run(fg, "fg-echo", payload)
        assert _error(excinfo) == (400, "FGS.3002", "input must be a JSON object.")


def test_sync_of_a_standard_workflow_is_400(fg):
    with pytest.raises(ClientRequestException) as excinfo:
        sync_run(fg, "fg-callback", {})
    status, code, message = _error(excinfo)
    assert (status, code) == (400, "FGS.3002")
    assert "not an express workflow" in message


def start_fg(fg, workflow, payload):
    response = fg.start_workflow_execution(
        StartWorkflowExecutionRequest(
            workflow_id=workflow,
            body=FlowExecuteBody(input=payload, headers={"X-Trace": "interop"}),
        )
    )
    assert isinstance(response, StartWorkflowExecutionResponse)
    assert response.status_code == 200
    assert response.execution_id
    return response.execution_id


def show(fg, workflow, run):
    shown = fg.show_workflow_execution(
        ShowWorkflowExecutionRequest(workflow_id=workflow, execution_id=run)
    )
    assert isinstance(shown, ShowWorkflowExecutionResponse)
    assert (shown.workflow_id, shown.execution_id) == (workflow, run)
    for node in shown.node_execution_details or []:
        assert isinstance(node, NodeExecutionDetail)
        for execution in node.executions:
            assert isinstance(execution, NodeExecution)
    return shown


def states(shown):
    return [(n.node_id, n.executions[0].status) for n in shown.node_execution_details]


def wait_fg(fg, workflow, run, done):
    deadline = time.monotonic() + POLL_TIMEOUT_SECS
    while True:
        shown = show(fg, workflow, run)
        if done(shown):
            return shown
        assert time.monotonic() < deadline, f"{workflow} run never got there: {shown}"
        time.sleep(POLL_INTERVAL_SECS)


def callback(fg, run, state, result, error=None):
    response = fg.create_callback_workflow(
        CreateCallbackWorkflowRequest(
            workflow_id="fg-callback",
            x_workflow_run_id=run,
            x_workflow_state_id=state,
            body=CallbackWorkflowRequestBody(
                result=result, error=error, output={"approved_by": "ops"}
            ),
        )
    )
    assert isinstance(response, CreateCallbackWorkflowResponse)
    assert response.status_code == 200
    assert response.execution_id == run
    return response


def waiting_for_callback(shown):
    return ("await-approval", "running") in states(shown)


def test_callback_success_resumes_the_run(fg):
    run = start_fg(fg, "fg-callback", {"ticket": "T-1"})
    first = show(fg, "fg-callback", run)
    assert first.status == "running"
    assert first.input == {"ticket": "T-1"}
    assert first.headers == {"X-Trace": "interop"}
    assert first.workflow_urn.endswith(":workflow:fg-callback")

    waiting = wait_fg(fg, "fg-callback", run, waiting_for_callback)
    assert waiting.status == "running"
    assert states(waiting) == [("prepare", "success"), ("await-approval", "running")]
    assert waiting.node_execution_details[0].executions[0].output == {"prepared": True}

    callback(fg, run, "await-approval", "success")
    done = wait_fg(fg, "fg-callback", run, lambda s: s.status != "running")
    assert done.status == "success"
    assert states(done) == [
        ("prepare", "success"),
        ("await-approval", "success"),
        ("finish", "success"),
    ]
    assert done.node_execution_details[1].executions[0].output == {"approved_by": "ops"}
    assert done.end_time is not None
    assert done.created_by == "ops-admin"


def test_callback_fail_fails_the_run(fg):
    run = start_fg(fg, "fg-callback", {"ticket": "T-2"})
    wait_fg(fg, "fg-callback", run, waiting_for_callback)
    callback(fg, run, "await-approval", "fail", error="denied by interop")
    shown = show(fg, "fg-callback", run)
    assert shown.status == "fail"
    assert shown.output is None
    assert states(shown) == [("prepare", "success"), ("await-approval", "fail")]
    assert shown.node_execution_details[1].executions[0].error_message == "denied by interop"


def test_callback_for_a_state_that_is_not_waiting_is_400(fg):
    run = start_fg(fg, "fg-callback", {"ticket": "T-3"})
    wait_fg(fg, "fg-callback", run, waiting_for_callback)
    with pytest.raises(ClientRequestException) as excinfo:
        callback(fg, run, "finish", "success")
    status, code, message = _error(excinfo)
    assert (status, code) == (400, "FGS.3002")
    assert "is not waiting for a callback" in message

    callback(fg, run, "await-approval", "success")
    with pytest.raises(ClientRequestException) as excinfo:
        callback(fg, run, "await-approval", "success")
    assert _error(excinfo)[:2] == (400, "FGS.3002")


def test_callback_for_an_unknown_run_or_state_is_404(fg):
    with pytest.raises(ClientRequestException) as excinfo:
        callback(fg, "no-such-run", "await-approval", "success")
    assert _error(excinfo)[:2] == (404, "FGS.5003")

    run = start_fg(fg, "fg-callback", {})
    with pytest.raises(ClientRequestException) as excinfo:
        callback(fg, run, "no-such-state", "success")
    assert _error(excinfo)[:2] == (404, "FGS.5003")


def test_standard_workflow_runs_to_success(fg):
    run = start_fg(fg, "fg-standard", {"n": 1})
    done = wait_fg(fg, "fg-standard", run, lambda s: s.status != "running")
    assert done.status == "success"
    assert done.output == {"done": True}
    assert states(done) == [("first", "success"), ("second", "success")]
    for field in (done.begin_time, done.end_time, done.last_update_time):
        assert len(field) == 20 and field.endswith("Z")


def test_functiongraph_unknown_workflow_and_execution_are_404(fg):
    for call in (
        lambda: sync_run(fg, "no-such-flow", {}),
        lambda: start_fg(fg, "no-such-flow", {}),
        lambda: show(fg, "no-such-flow", "x"),
    ):
        with pytest.raises(ClientRequestException) as excinfo:
            call()
        assert _error(excinfo) == (404, "FGS.5002", "Function flow not found.")

    with pytest.raises(ClientRequestException) as excinfo:
        show(fg, "fg-standard", "missing")
    assert _error(excinfo) == (404, "FGS.5003", "Function flow execution not found.")


def test_functiongraph_wrong_secret_key_is_401(sandbox_url):
    forged = _build(FunctionGraphClient, sandbox_url, sk="not-the-secret")
    with pytest.raises(ClientRequestException) as excinfo:
        sync_run(forged, "fg-echo", {})
    status, code, message = _error(excinfo)
    assert (status, code) == (401, "APIGW.0301")
    assert message.startswith("Incorrect IAM authentication information")
    # The gateway's request ids: 32 hex digits, no counter in them.
    assert re.fullmatch(r"[0-9a-f]{32}", excinfo.value.request_id), excinfo.value.request_id


# The SDK serialises boolean headers with str(), so the sandbox must accept `True`.
def test_show_with_full_history_header(fg):
    run = start_fg(fg, "fg-standard", {})
    shown = fg.show_workflow_execution(
        ShowWorkflowExecutionRequest(
            workflow_id="fg-standard", execution_id=run, x_get_workflow_full_history_data=True
        )
    )
    assert shown.execution_id == run


# --- listing and stopping ----------------------------------------------------------------


def list_aom(aom, workflow, **query):
    response = aom.list_workflow_executions(
        ListWorkflowExecutionsRequest(workflow_id=workflow, **query)
    )
    assert isinstance(response, ListWorkflowExecutionsResponse)
    assert response.status_code == 200
    for brief in response.body:
        assert isinstance(brief, WorkflowExecutionBrief)
        assert brief.workflow_id == workflow
    return response.body


def stop_aom(aom, workflow, execution):
    response = aom.stop_execution(
        StopExecutionRequest(workflow_id=workflow, execution_id=execution)
    )
    assert isinstance(response, StopExecutionResponse)
    assert response.status_code == 200
    return response


def test_aom_lists_newest_first_and_stops_once(aom):
    first = start_aom(aom, "wf-long")
    second = start_aom(aom, "wf-long")
    listed = list_aom(aom, "wf-long", x_enterprise_project_id="0")
    ours = [b for b in listed if b.execution_id in (first, second)]
    assert [(b.execution_id, b.status) for b in ours] == [
        (second, "executing"),
        (first, "executing"),
    ]
    brief = ours[1]
    assert brief.created_by == "ops-admin" and brief.project_id == PROJECT
    assert isinstance(brief.begin_time, int) and brief.end_time is None
    assert isinstance(brief.execution_result_list[0], ExecutionResultList)

    assert stop_aom(aom, "wf-long", first).body == "success"
    stopped = aom_detail(aom, "wf-long", first)
    assert stopped.status == "cancel"
    assert nodes(stopped) == [("soak", "cancel")]
    assert stopped.end_time >= stopped.begin_time
    statuses = {b.execution_id: b.status for b in list_aom(aom, "wf-long")}
    assert (statuses[first], statuses[second]) == ("cancel", "executing")

    with pytest.raises(ClientRequestException) as excinfo:
        stop_aom(aom, "wf-long", first)
    status, code, message = _error(excinfo)
    assert (status, code) == (400, "AOM.31001403")
    assert "already ended (cancel)" in message
    stop_aom(aom, "wf-long", second)


def test_aom_stopping_a_finished_or_unknown_execution_is_refused(aom):
    execution = start_aom(aom, "wf-success")
    wait_aom(aom, "wf-success", execution, "success")
    with pytest.raises(ClientRequestException) as excinfo:
        stop_aom(aom, "wf-success", execution)
    status, code, message = _error(excinfo)
    assert (status, code) == (400, "AOM.31001403")
    assert "already ended (success)" in message
    assert aom_detail(aom, "wf-success", execution).status == "success"

    with pytest.raises(ClientRequestException) as excinfo:
        stop_aom(aom, "wf-success", "missing")
    assert _error(excinfo) == (404, "AOM.31001307", "execution not exist.")
    with pytest.raises(ClientRequestException) as excinfo:
        list_aom(aom, "no-such-workflow")
    assert _error(excinfo) == (404, "AOM.31001306", "workflow not exist.")


def test_another_project_cannot_list_or_stop(sandbox_url, aom, fg):
    execution = start_aom(aom, "wf-long")
    run = start_fg(fg, "fg-callback", {})
    intruder = _build(AomClient, sandbox_url, ak=OTHER_AK, sk=OTHER_SK, project=PROJECT)
    for call in (
        lambda: list_aom(intruder, "wf-long"),
        lambda: stop_aom(intruder, "wf-long", execution),
    ):
        with pytest.raises(ClientRequestException) as excinfo:
            call()
        assert _error(excinfo)[:2] == (403, "AOM.31009004")
    fg_intruder = _build(FunctionGraphClient, sandbox_url, ak=OTHER_AK, sk=OTHER_SK, project=PROJECT)
    with pytest.raises(ClientRequestException) as excinfo:
        stop_fg(fg_intruder, "fg-callback", run)
    assert _error(excinfo)[0] == 403

    home = _build(AomClient, sandbox_url, ak=OTHER_AK, sk=OTHER_SK, project=OTHER_PROJECT)
    with pytest.raises(ClientRequestException) as excinfo:
        stop_aom(home, "wf-other", execution)
    assert _error(excinfo)[:2] == (404, "AOM.31001307")
    assert aom_detail(aom, "wf-long", execution).status == "executing"
    assert show(fg, "fg-callback", run).status == "running"
    stop_aom(aom, "wf-long", execution)
    stop_fg(fg, "fg-callback", run)


def list_fg(fg, workflow, **query):
    response = fg.list_workflow_executions(ListFlowExecutionsRequest(workflow_id=workflow, **query))
    assert isinstance(response, ListFlowExecutionsResponse)
    assert response.status_code == 200
    for brief in response.executions:
        assert isinstance(brief, FlowExecutionBrief)
        assert brief.workflow_id == workflow
    return response.executions


def stop_fg(fg, workflow, run):
    response = fg.stop_work_flow(StopWorkFlowRequest(workflow_id=workflow, execution_id=run))
    assert isinstance(response, StopWorkFlowResponse)
    assert response.status_code == 200
    assert response.raw_content == b"", "the documented answer has no body"
    return response


def ids(briefs):
    return [b.execution_id for b in briefs]


def test_functiongraph_lists_page_by_page_with_filters(fg):
    runs = [start_fg(fg, "fg-callback", {"n": n}) for n in range(3)]
    everything = ids(list_fg(fg, "fg-callback", limit=200))
    assert [r for r in everything if r in runs] == runs[::-1], "newest first"

    # Pages of two, walked with offset, give the same list.
    walked = []
    for offset in range(0, len(everything) + 2, 2):
        page = ids(list_fg(fg, "fg-callback", limit=2, offset=offset))
        assert len(page) <= 2
        walked.extend(page)
    assert walked == everything
    assert ids(list_fg(fg, "fg-callback", limit=1, offset=-5)) == everything[:1]

    stop_fg(fg, "fg-callback", runs[1])
    cancelled = list_fg(fg, "fg-callback", status="cancel", limit=200)
    assert runs[1] in ids(cancelled)
    assert all(b.status == "cancel" for b in cancelled)
    running = ids(list_fg(fg, "fg-callback", status="running", limit=200))
    assert runs[0] in running and runs[2] in running and runs[1] not in running

    mine = next(b for b in list_fg(fg, "fg-callback", limit=200) if b.execution_id == runs[0])
    assert mine.created_by == "ops-admin" and mine.begin_time.endswith("Z")
    since_mine = ids(list_fg(fg, "fg-callback", start_time=mine.begin_time, limit=200))
    assert set(runs) <= set(since_mine)
    assert list_fg(fg, "fg-callback", start_time="2020-01-01T00:00:00Z", end_time="2020-01-02T00:00:00Z") == []

    with pytest.raises(ClientRequestException) as excinfo:
        list_fg(fg, "fg-callback", start_time="not a time")
    status, code, message = _error(excinfo)
    assert (status, code) == (400, "FGS.3002")
    assert "start_time" in message
    with pytest.raises(ClientRequestException) as excinfo:
        list_fg(fg, "fg-callback", status="paused")
    assert _error(excinfo)[:2] == (400, "FGS.3002")
    for run in (runs[0], runs[2]):
        stop_fg(fg, "fg-callback", run)


def test_functiongraph_stop_cancels_once_and_refuses_a_finished_run(fg):
    run = start_fg(fg, "fg-callback", {})
    wait_fg(fg, "fg-callback", run, waiting_for_callback)
    stop_fg(fg, "fg-callback", run)
    stopped = show(fg, "fg-callback", run)
    assert stopped.status == "cancel"
    assert states(stopped) == [("prepare", "success"), ("await-approval", "cancel")]
    assert stopped.end_time is not None

    with pytest.raises(ClientRequestException) as excinfo:
        stop_fg(fg, "fg-callback", run)
    status, code, message = _error(excinfo)
    assert (status, code) == (400, "FGS.3002")
    assert "already ended (cancel)" in message
    with pytest.raises(ClientRequestException) as excinfo:
        callback(fg, run, "await-approval", "success")
    assert _error(excinfo)[:2] == (400, "FGS.3002")

    finished = start_fg(fg, "fg-standard", {})
    wait_fg(fg, "fg-standard", finished, lambda s: s.status != "running")
    with pytest.raises(ClientRequestException) as excinfo:
        stop_fg(fg, "fg-standard", finished)
    status, _, message = _error(excinfo)
    assert status == 400 and "already ended (success)" in message

    with pytest.raises(ClientRequestException) as excinfo:
        stop_fg(fg, "fg-standard", "missing")
    assert _error(excinfo) == (404, "FGS.5003", "Function flow execution not found.")
