"""Generate AK/SK (SDK-HMAC-SHA256) signing test vectors with the official
Huawei Cloud Python SDK signer (huaweicloudsdkcore.signer.signer.Signer).

Usage (from this directory):

    python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && .venv/bin/python make_vectors.py

Writes ``vectors.json`` next to this script. The output is deterministic:
fixed AK/SK strings and fixed X-Sdk-Date values, so running the script twice
produces byte-identical output.

How the expected values are captured
------------------------------------
Each vector is signed by calling ``Signer.sign(SdkRequest)`` -- the SDK's own
entry point -- on a thin subclass that only *wraps* the internal methods
``_process_signed_headers``, ``_process_canonical_request``,
``_process_string_to_sign`` and ``_sign_string_to_sign`` to record their
return values.  The script then checks that:

* an unwrapped ``Signer`` signing an identical request yields the very same
  Authorization header and final headers;
* HMAC-SHA256(SK, captured string_to_sign) equals the signature in the
  Authorization header, and the string_to_sign embeds SHA-256 of the captured
  canonical request.

Vector format (see the lead's spec): ``query`` is the ordered list of pairs as
sent; repeated keys are turned into one SDK list value (``[(k, [v1, v2])]``).
The script asserts that the SDK's own client representation (one tuple per
value, as ``parameters_to_tuples(..., 'multi')`` produces) canonicalizes to
the same string.  ``headers`` are the headers present before signing.
``expected.headers_added`` lists every header the signer added or whose value
it changed (trimmed / overwritten), in the SDK's dict order, Authorization
excluded.  ``expected.uri`` is ``request.uri`` after signing: the raw
resource_path plus ``?`` plus the canonical query string (the SDK sends the
query on the wire in exactly this canonical form).

The two Go SDK known answers sign only ``x-sdk-date`` (no Host), which
``Signer.sign`` can never produce (it always adds Host).  They are therefore
kept apart in ``go_sdk_vectors`` and computed by calling the same internal
methods in the same order as ``sign()`` minus ``_process_header_host``.
"""

import hashlib
import hmac
import json
import os
import sys

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

GENERATOR = "huaweicloudsdkcore 3.1.219 Signer"

AK = "HPUAL6Z0EXAMPLEAK001"
SK = "Wk3uVnGQe0EXAMPLESECRETKEY0123456789abcd"
AK2 = "QTWAOYTTINDUT2QVKYUC"
SK2 = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"  # 32 chars
PROJECT2 = "f5e4d3c2b1a09f8e7d6c5b4a39281706"
HOST_AOM = "aom.cn-north-4.myhuaweicloud.com"
HOST_FGS = "functiongraph.cn-north-4.myhuaweicloud.com"
HOST_AP = "functiongraph.ap-southeast-1.myhuaweicloud.com"

D1 = "20240102T030405Z"
D2 = "20240229T235959Z"
D3 = "20251231T000000Z"
D4 = "20000101T000000Z"

JSON = "application/json"
JSON_UTF8 = "application/json;charset=UTF-8"


class CapturingSigner(Signer):
    """Official Signer; internal methods wrapped only to record results."""

    def __init__(self, credentials):
        super().__init__(credentials)
        self.captured = {}

    def _process_signed_headers(self, request):
        r = super()._process_signed_headers(request)
        self.captured["signed_headers"] = ";".join(r)
        return r

    def _process_canonical_request(self, request, signed_headers):
        r = super()._process_canonical_request(request, signed_headers)
        self.captured["canonical_request"] = r
        return r

    def _process_string_to_sign(self, canonical_request, time):
        r = super()._process_string_to_sign(canonical_request, time)
        self.captured["string_to_sign"] = r
        return r

    def _sign_string_to_sign(self, string_to_sign, key):
        r = super()._sign_string_to_sign(string_to_sign, key)
        self.captured["signature"] = r
        return r


def creds(ak, sk):
    return BasicCredentials(ak, sk, PROJECT)


def group_query(pairs):
    """Ordered pairs -> SDK query_params: first-occurrence key order, repeated
    keys collapsed into one list value."""
    counts = {}
    for k, _ in pairs:
        counts[k] = counts.get(k, 0) + 1
    out, seen = [], {}
    for k, v in pairs:
        if counts[k] > 1:
            if k not in seen:
                seen[k] = []
                out.append((k, seen[k]))
            seen[k].append(v)
        else:
            out.append((k, v))
    return out


def header_dict(pairs):
    d = {}
    for k, v in pairs:
        assert k not in d, "duplicate header name %r" % k
        d[k] = v
    return d


def wire_to_str(v):
    # Signer stores header values as value.encode('utf-8').decode('iso-8859-1')
    return v.encode("iso-8859-1").decode("utf-8")


def build_request(method, host, path, query, headers, body):
    return SdkRequest(method=method, schema="https", host=host, resource_path=path,
                      query_params=group_query(query), header_params=header_dict(headers),
                      body=body)


def check_crypto(captured, auth, ak, sk):
    sig = hmac.new(sk.encode("utf-8"), captured["string_to_sign"].encode("utf-8"),
                   hashlib.sha256).hexdigest()
    assert sig == captured["signature"], "HMAC mismatch"
    lines = captured["string_to_sign"].split("\n")
    assert lines[0] == "SDK-HMAC-SHA256"
    assert lines[2] == hashlib.sha256(captured["canonical_request"].encode("utf-8")).hexdigest()
    want = "SDK-HMAC-SHA256 Access=%s, SignedHeaders=%s, Signature=%s" % (
        ak, captured["signed_headers"], sig)
    assert auth == want, (auth, want)


def make_vector(name, method, host, path, query=(), headers=(), body="", ak=AK, sk=SK):
    query = [list(p) for p in query]
    headers = [list(h) for h in headers]

    req = build_request(method, host, path, query, headers, body)
    before = dict(req.header_params)
    signer = CapturingSigner(creds(ak, sk))
    signer.sign(req)
    cap = signer.captured
    auth = req.header_params["Authorization"]
    check_crypto(cap, auth, ak, sk)

    # Unwrapped official signer on an identical request must agree.
    req2 = build_request(method, host, path, query, headers, body)
    Signer(creds(ak, sk)).sign(req2)
    assert req2.header_params == req.header_params
    assert req2.uri == req.uri

    # The SDK client's own representation of repeated keys (one tuple per
    # value) must canonicalize identically.
    flat = SdkRequest(query_params=[tuple(p) for p in query])
    assert Signer.process_canonical_query_string(flat) == \
        cap["canonical_request"].split("\n")[2]

    added = []
    for k, v in req.header_params.items():
        if k == "Authorization":
            continue
        v = wire_to_str(v)
        if k not in before or before[k] != v:
            added.append([k, v])

    return {
        "name": name,
        "ak": ak,
        "sk": sk,
        "method": method,
        "host": host,
        "path": path,
        "query": query,
        "headers": headers,
        "body": body,
        "expected": {
            "signed_headers": cap["signed_headers"],
            "canonical_request": cap["canonical_request"],
            "string_to_sign": cap["string_to_sign"],
            "signature": cap["signature"],
            "authorization": auth,
            "headers_added": added,
            "uri": req.uri,
        },
    }


def make_go_vector(name, method, host, path, query, headers, body, expected_sig):
    """Same internal calls, same order as Signer.sign(), minus
    _process_header_host (so only x-sdk-date is signed)."""
    query = [list(p) for p in query]
    headers = [list(h) for h in headers]
    req = build_request(method, host, path, query, headers, body)
    signer = CapturingSigner(creds("AccessKey", "SecretKey"))
    signer._verify_required()
    if isinstance(req.body, str):
        req.body = req.body.encode("utf-8")
    signer._process_content_header(req)
    t = signer._process_header_time(req)
    signed_headers = signer._process_signed_headers(req)
    cr = signer._process_canonical_request(req, signed_headers)
    sts = signer._process_string_to_sign(cr, t)
    sig = signer._sign_string_to_sign(sts, signer._sk)
    auth = signer._process_auth_header_value(sig, signer._ak, signed_headers)
    check_crypto(signer.captured, auth, "AccessKey", "SecretKey")
    assert sig == expected_sig, "Python signer disagrees with Go known answer %s: %s" % (name, sig)
    return {
        "name": name,
        "ak": "AccessKey",
        "sk": "SecretKey",
        "method": method,
        "host": host,
        "host_signed": False,
        "path": path,
        "query": query,
        "headers": headers,
        "body": body,
        "expected": {
            "signed_headers": signer.captured["signed_headers"],
            "canonical_request": cr,
            "string_to_sign": sts,
            "signature": sig,
            "authorization": auth,
            "headers_added": [],
        },
    }


def self_checks():
    """Behaviour that cannot be expressed with string-only JSON vectors."""
    def cq(params):
        return Signer.process_canonical_query_string(SdkRequest(query_params=params))
    assert cq([("a", True), ("b", False)]) == "a=true&b=false"
    assert cq([("a", None)]) == "a=None"  # SdkClient drops None before signing
    assert cq([("a", 10), ("b", 1.5)]) == "a=10&b=1.5"
    assert cq([("k", ["b", "a", "B"])]) == "k=B&k=a&k=b"
    assert cq([]) == ""


def v1(rest):
    return "/v1/%s/cms/workflow/%s" % (PROJECT, rest)


def v2(rest):
    return "/v2/%s/fgs/workflows/%s" % (PROJECT, rest)


def vectors():
    V = []
    add = lambda *a, **kw: V.append(make_vector(*a, **kw))
    H = [["X-Sdk-Date", D1]]
    HJ = [["X-Sdk-Date", D1], ["Content-Type", JSON]]

    # ---- realistic workflow endpoints -------------------------------------
    add("wf-v1-start-execution", "POST", HOST_AOM, v1("wf-order-pipeline/executions"),
        headers=[["X-Sdk-Date", D1], ["Content-Type", JSON_UTF8], ["X-Project-Id", PROJECT]],
        body='{"input":{"order_id":"A-1001","amount":42.5},"name":"run-1"}')
    add("wf-v1-start-execution-empty-object", "POST", HOST_AOM, v1("8f3c2a10-1b2c-4d5e-9f00-112233445566/executions"),
        headers=HJ, body="{}")
    add("wf-v1-operation-restart", "POST", HOST_AOM,
        v1("wf-order-pipeline/executions/exec-20240102-0001/operation"),
        query=[["action", "restart"], ["node_id", "n1"]],
        headers=[["X-Sdk-Date", D2], ["Content-Type", JSON_UTF8], ["X-Project-Id", PROJECT]],
        body="")
    add("wf-v1-operation-query-unsorted", "POST", HOST_AOM,
        v1("wf-order-pipeline/executions/exec-20240102-0001/operation"),
        query=[["node_id", "n1"], ["action", "retry"]],
        headers=HJ, body='{"reason":"manual"}')
    add("wf-v1-execution-status", "GET", HOST_AOM,
        v1("wf-order-pipeline/executions/exec-20240102-0001/status"),
        headers=[["X-Sdk-Date", D3], ["Content-Type", JSON_UTF8], ["X-Project-Id", PROJECT]])
    add("wf-v2-sync-execution", "POST", HOST_FGS, v2("wf-sync-demo/sync-executions"),
        headers=[["X-Sdk-Date", D1], ["Content-Type", JSON_UTF8]],
        body='{"input":{"user":"alice","items":[1,2,3]},"no_wait":false}')
    add("wf-v2-sync-execution-unicode-input", "POST", HOST_AP, v2("wf-sync-demo/sync-executions"),
        headers=[["X-Sdk-Date", D2], ["Content-Type", JSON]],
        body='{"input":{"greeting":"你好，世界","note":"café ☕"}}')
    add("wf-v2-callback", "POST", HOST_FGS, v2("wf-callback-demo/callback"),
        headers=[["X-Sdk-Date", D1], ["Content-Type", JSON],
                 ["X-Workflow-Run-Id", "c0ffee00-1234-5678-9abc-def012345678"],
                 ["X-Workflow-State-Id", "state-wait-approval"]],
        body='{"result":"approved","approver":"bob"}')
    add("wf-v2-start-execution", "POST", HOST_FGS, v2("wf-async-demo/executions"),
        headers=[["X-Sdk-Date", D3], ["Content-Type", JSON]],
        body='{"input":{"key":"value"}}')
    add("wf-v2-get-execution", "GET", HOST_FGS, v2("wf-async-demo/executions/d9b8c7a6-5544-3322-1100-ffeeddccbbaa"),
        headers=[["X-Sdk-Date", D3], ["Content-Type", JSON]])
    add("wf-v2-get-execution-other-project", "GET", HOST_AP,
        "/v2/%s/fgs/workflows/%s/executions/%s" % (PROJECT2, "wf-async-demo", "exec-7"),
        headers=[["X-Sdk-Date", D4]], ak=AK2, sk=SK2)

    # ---- path: unicode ----------------------------------------------------
    add("path-unicode-chinese", "GET", HOST_AOM, v1("工作流/executions"), headers=H)
    add("path-unicode-emoji", "GET", HOST_AOM, v1("wf-🚀-launch/executions"), headers=H)
    add("path-unicode-accented", "GET", HOST_AOM, v1("café-naïve-Zürich/status"), headers=H)
    add("path-unicode-mixed-segments", "GET", HOST_AOM, "/v1/Ωmega/東京/😀👍/ÅÉÎ", headers=H)

    # ---- path: reserved characters, one per vector -------------------------
    for label, ch in [("space", " "), ("plus", "+"), ("equals", "="), ("ampersand", "&"),
                      ("percent", "%"), ("colon", ":"), ("at", "@"), ("bang", "!"),
                      ("asterisk", "*"), ("apostrophe", "'"), ("lparen", "("),
                      ("rparen", ")"), ("dollar", "$"), ("comma", ","), ("semicolon", ";")]:
        add("path-reserved-%s" % label, "GET", HOST_AOM, v1("a%sb/status" % ch) if ch != "%"
            else v1("100%/status"), headers=H)
    add("path-reserved-all-in-one-segment", "GET", HOST_AOM,
        v1("a b+c=d&e%f:g@h!i*j'k(l)m$n,o;p/executions"), headers=H)
    add("path-unreserved-kept", "GET", HOST_AOM, v1("a-b_c.d~e/executions"), headers=H)
    add("path-percent-non-hex-literal", "GET", HOST_AOM, v1("50%off%zz/status"), headers=H)

    # ---- path: already percent-encoded (SDK unquotes first) ----------------
    add("path-preencoded-space", "GET", HOST_AOM, v1("a%20b/status"), headers=H)
    add("path-preencoded-utf8-chinese", "GET", HOST_AOM, v1("%E5%B7%A5%E4%BD%9C%E6%B5%81/executions"), headers=H)
    add("path-preencoded-lowercase-hex", "GET", HOST_AOM, v1("%e5%b7%a5%c3%a9/executions"), headers=H)
    add("path-preencoded-slash-becomes-separator", "GET", HOST_AOM, v1("a%2Fb/status"), headers=H)
    add("path-preencoded-double-encoded", "GET", HOST_AOM, v1("a%2520b/status"), headers=H)
    add("path-preencoded-percent", "GET", HOST_AOM, v1("100%25/status"), headers=H)
    add("path-preencoded-plus", "GET", HOST_AOM, v1("a%2Bb/status"), headers=H)
    add("path-preencoded-tilde", "GET", HOST_AOM, v1("a%7Eb/status"), headers=H)
    add("path-preencoded-invalid-utf8", "GET", HOST_AOM, v1("bad%FFbyte/status"), headers=H)
    add("path-preencoded-mixed-with-raw", "GET", HOST_AOM, v1("a%20b c/status"), headers=H)

    # ---- path: slashes ----------------------------------------------------
    add("path-no-trailing-slash", "GET", HOST_AOM, v1("wf1/executions"), headers=H)
    add("path-with-trailing-slash", "GET", HOST_AOM, v1("wf1/executions/"), headers=H)
    add("path-root", "GET", HOST_AOM, "/", headers=H)
    add("path-root-with-query", "GET", HOST_AOM, "/", query=[["limit", "1"]], headers=H)
    add("path-double-slash-kept", "GET", HOST_AOM, "/v1//double//slash", headers=H)

    # ---- query ------------------------------------------------------------
    add("query-repeated-key-unsorted-values", "GET", HOST_FGS, v2("wf1/executions"),
        query=[["tag", "zeta"], ["limit", "10"], ["tag", "alpha"], ["tag", "Mid"], ["tag", "beta"]],
        headers=H)
    add("query-repeated-identical-pairs", "GET", HOST_FGS, v2("wf1/executions"),
        query=[["a", "1"], ["a", "1"], ["b", "2"]], headers=H)
    add("query-empty-value", "GET", HOST_FGS, v2("wf1/executions"),
        query=[["marker", ""], ["limit", "10"]], headers=H)
    add("query-empty-value-repeated", "GET", HOST_FGS, v2("wf1/executions"),
        query=[["k", "x"], ["k", ""], ["k", ""]], headers=H)
    add("query-empty-key", "GET", HOST_FGS, v2("wf1/executions"),
        query=[["", "v"], ["a", "b"]], headers=H)
    add("query-values-reserved-chars", "GET", HOST_FGS, v2("wf1/executions"),
        query=[["space", "a b"], ["plus", "a+b"], ["slash", "a/b"], ["question", "a?b"],
               ["equals", "a=b"], ["amp", "a&b"], ["tilde", "a~b"], ["star", "a*b"],
               ["percent", "100%"], ["pctenc", "a%20b"]],
        headers=H)
    add("query-values-unicode", "GET", HOST_FGS, v2("wf1/executions"),
        query=[["name", "工作流 1"], ["emoji", "😀"], ["city", "Zürich"]], headers=H)
    add("query-keys-reserved-chars", "GET", HOST_FGS, v2("wf1/executions"),
        query=[["a b", "1"], ["a+b", "2"], ["a/b", "3"], ["a?b", "4"], ["a=b", "5"],
               ["a&b", "6"], ["a~b", "7"], ["a*b", "8"], ["a%b", "9"]],
        headers=H)
    add("query-keys-unicode", "GET", HOST_FGS, v2("wf1/executions"),
        query=[["名称", "值"], ["émoji", "😀"], ["key", "v"]], headers=H)
    add("query-keys-case-differ", "GET", HOST_FGS, v2("wf1/executions"),
        query=[["limit", "1"], ["Limit", "2"], ["LIMIT", "3"], ["lImit", "4"]], headers=H)
    add("query-sort-raw-not-encoded-dot-vs-slash", "GET", HOST_FGS, v2("wf1/executions"),
        query=[["a/", "slash"], ["a.", "dot"]], headers=H)
    add("query-sort-raw-not-encoded-digit-vs-colon", "GET", HOST_FGS, v2("wf1/executions"),
        query=[["a:", "colon"], ["a9", "nine"]], headers=H)
    add("query-sort-raw-not-encoded-tilde-vs-unicode", "GET", HOST_FGS, v2("wf1/executions"),
        query=[["aé", "accent"], ["a~", "tilde"]], headers=H)
    add("query-repeated-values-sorted-raw", "GET", HOST_FGS, v2("wf1/executions"),
        query=[["v", "b"], ["v", "é"], ["v", "B"], ["v", "a b"], ["v", "a+b"], ["v", "a/"], ["v", "a."]],
        headers=H)
    add("query-prefix-keys", "GET", HOST_FGS, v2("wf1/executions"),
        query=[["ab", "2"], ["a", "1"], ["a b", "3"], ["a-", "4"]], headers=H)
    add("query-numeric-like-strings", "GET", HOST_FGS, v2("wf1/executions"),
        query=[["offset", "10"], ["limit", "2"], ["flag", "true"]], headers=H)

    # ---- bodies -----------------------------------------------------------
    add("body-json-ascii", "POST", HOST_FGS, v2("wf1/executions"), headers=HJ,
        body='{"name":"test","count":3,"enabled":true}')
    add("body-json-unicode", "POST", HOST_FGS, v2("wf1/executions"), headers=HJ,
        body='{"名称":"工作流","emoji":"🚀","accent":"naïve"}')
    add("body-json-unicode-escaped", "POST", HOST_FGS, v2("wf1/executions"), headers=HJ,
        body='{"name":"\\u5de5\\u4f5c\\u6d41"}')
    add("body-json-nested", "POST", HOST_FGS, v2("wf1/executions"), headers=HJ,
        body='{"input":{"a":{"b":{"c":[1,{"d":null},"x"]}},"list":[true,false]},"meta":{}}')
    add("body-json-trailing-newline", "POST", HOST_FGS, v2("wf1/executions"), headers=HJ,
        body='{"Name":"test","Id":1}\n')
    add("body-json-pretty-crlf", "POST", HOST_FGS, v2("wf1/executions"), headers=HJ,
        body='{\r\n  "a": 1,\r\n  "b": [2, 3]\r\n}\r\n')
    add("body-empty-get", "GET", HOST_FGS, v2("wf1/executions"), headers=H, body="")
    add("body-empty-post", "POST", HOST_FGS, v2("wf1/executions"), headers=HJ, body="")
    add("body-empty-post-no-content-type", "POST", HOST_FGS, v2("wf1/executions"), headers=H, body="")
    add("body-put-json", "PUT", HOST_FGS, v2("wf1"), headers=HJ, body='{"description":"updated"}')
    add("body-delete-empty", "DELETE", HOST_FGS, v2("wf1"), headers=H)
    add("body-patch-json", "PATCH", HOST_FGS, v2("wf1"), headers=HJ, body='[{"op":"replace","path":"/a","value":1}]')

    # ---- headers ----------------------------------------------------------
    add("header-security-token", "POST", HOST_FGS, v2("wf1/executions"),
        headers=[["X-Sdk-Date", D2], ["Content-Type", JSON],
                 ["X-Security-Token", "gQpjbi1ub3J0aC00jMB8xEXAMPLE-TOKEN+/=="]],
        body='{"input":{}}')
    add("header-project-id", "GET", HOST_AOM, v1("wf1/executions/e1/status"),
        headers=[["X-Sdk-Date", D2], ["X-Project-Id", PROJECT]])
    add("header-underscore-excluded", "GET", HOST_FGS, v2("wf1/executions"),
        headers=[["X-Sdk-Date", D1], ["X_Custom_Header", "not-signed"], ["X-Custom-Header", "signed"]])
    add("header-underscore-only-unsigned-value-trimmed", "GET", HOST_FGS, v2("wf1/executions"),
        headers=[["X-Sdk-Date", D1], ["trace_id", "  abc  "]])
    add("header-values-trimmed-spaces-tabs", "GET", HOST_FGS, v2("wf1/executions"),
        headers=[["X-Sdk-Date", D1], ["X-Project-Id", "  " + PROJECT + "\t"],
                 ["X-Custom", "\t\t value with  inner   spaces \t "]])
    add("header-empty-value", "GET", HOST_FGS, v2("wf1/executions"),
        headers=[["X-Sdk-Date", D1], ["X-Empty", ""], ["X-Blank", "   "]])
    add("header-names-mixed-case", "POST", HOST_FGS, v2("wf1/executions"),
        headers=[["x-sdk-DATE", D3], ["CONTENT-TYPE", JSON], ["x-PROJECT-id", PROJECT],
                 ["X-Workflow-Run-ID", "run-1"]],
        body='{"a":1}')
    add("header-user-agent", "GET", HOST_FGS, v2("wf1/executions"),
        headers=[["X-Sdk-Date", D1], ["User-Agent", "huaweicloud-usdk-rust/0.1.0"]])
    add("header-explicit-host", "GET", HOST_FGS, v2("wf1/executions"),
        headers=[["X-Sdk-Date", D1], ["Host", "custom.example.com"]])
    add("header-explicit-host-lowercase-name", "GET", HOST_FGS, v2("wf1/executions"),
        headers=[["host", HOST_FGS], ["X-Sdk-Date", D1]])
    add("host-with-port", "POST", "127.0.0.1:8443", v2("wf1/executions"), headers=HJ,
        body='{"input":{}}')
    add("host-with-port-name", "GET", "localhost:8080", v1("wf1/executions/e1/status"), headers=H)

    # ---- content type / payload hash --------------------------------------
    add("content-type-text-plain-unsigned-payload", "POST", HOST_FGS, v2("wf1/executions"),
        headers=[["X-Sdk-Date", D1], ["Content-Type", "text/plain"]], body="hello world")
    add("content-type-form-urlencoded-unsigned-payload", "POST", HOST_FGS, v2("wf1/executions"),
        headers=[["X-Sdk-Date", D1], ["Content-Type", "application/x-www-form-urlencoded"]],
        body="a=1&b=two")
    add("content-type-octet-stream-empty-body", "POST", HOST_FGS, v2("wf1/executions"),
        headers=[["X-Sdk-Date", D1], ["Content-Type", "application/octet-stream"]], body="")
    add("content-type-json-charset-signed-payload", "POST", HOST_FGS, v2("wf1/executions"),
        headers=[["X-Sdk-Date", D1], ["Content-Type", "application/json; charset=utf-8"]],
        body='{"a":1}')
    add("content-type-bson-signed-payload", "POST", HOST_FGS, v2("wf1/executions"),
        headers=[["X-Sdk-Date", D1], ["Content-Type", "application/bson"]], body="bson-ish")
    add("content-type-lowercase-name-not-detected", "POST", HOST_FGS, v2("wf1/executions"),
        headers=[["X-Sdk-Date", D1], ["content-type", "text/plain"]], body="hello world")
    add("content-sha256-explicit-json", "POST", HOST_FGS, v2("wf1/executions"),
        headers=[["X-Sdk-Date", D1], ["Content-Type", JSON],
                 ["X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD"]], body='{"a":1}')
    add("content-sha256-explicit-lowercase-name", "POST", HOST_FGS, v2("wf1/executions"),
        headers=[["X-Sdk-Date", D1], ["Content-Type", JSON],
                 ["x-sdk-content-sha256", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]],
        body='{"a":1}')
    add("content-sha256-explicit-empty-body-ignored", "POST", HOST_FGS, v2("wf1/executions"),
        headers=[["X-Sdk-Date", D1], ["Content-Type", JSON],
                 ["X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD"]], body="")
    add("content-sha256-explicit-overwritten-by-non-json", "POST", HOST_FGS, v2("wf1/executions"),
        headers=[["X-Sdk-Date", D1], ["Content-Type", "text/plain"],
                 ["X-Sdk-Content-Sha256", "deadbeef"]], body="hello")

    # ---- misc -------------------------------------------------------------
    add("alt-credentials-get", "GET", HOST_AP, v2("wf1/executions"),
        query=[["limit", "100"], ["offset", "0"]], headers=[["X-Sdk-Date", D4]], ak=AK2, sk=SK2)
    add("date-leap-day", "POST", HOST_AOM, v1("wf1/executions"),
        headers=[["X-Sdk-Date", D2], ["Content-Type", JSON]], body='{"input":{"leap":true}}')

    names = [v["name"] for v in V]
    assert len(names) == len(set(names)), "duplicate vector names"
    return V


def go_vectors():
    host = "example.huaweicloud.com"
    hdr = [["X-Sdk-Date", "20060102T150405Z"]]
    return [
        make_go_vector("go-sdk-get-limit", "GET", host, "/path", [["limit", "1"]], hdr, "",
                       "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"),
        make_go_vector("go-sdk-post-json", "POST", host, "/path", [["key", "value"]], hdr,
                       '{"Name":"test","Id":1}\n',
                       "cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59"),
    ]


def main():
    self_checks()
    out = {
        "generator": GENERATOR,
        "vectors": vectors(),
        "go_sdk_vectors": go_vectors(),
    }
    text = json.dumps(out, ensure_ascii=False, indent=2) + "\n"
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors.json")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print("wrote %d vectors (+%d go_sdk_vectors) to %s"
          % (len(out["vectors"]), len(out["go_sdk_vectors"]), path), file=sys.stderr)


if __name__ == "__main__":
    main()
