"""Bad input gets a clear 4xx, never crashes the collector, and never poisons good spans."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest
from google.rpc.status_pb2 import Status

from tests.support.otlp import llm_span, new_trace_id, span, trace_request

PB = "application/x-protobuf"


def post(server, body: bytes, content_type: str = PB, key: str | None = "admin", **headers: str) -> httpx.Response:
    h = {"Content-Type": content_type, **headers}
    if key:
        h["Authorization"] = f"Bearer {server.admin_key if key == 'admin' else key}"
    return httpx.post(server.url + "/v1/traces", content=body, headers=h, timeout=30)


def message(r: httpx.Response) -> str:
    if r.headers.get("content-type", "").startswith("application/json"):
        body = r.json()
        return body.get("message") or str(body.get("detail") or body.get("error"))
    return Status.FromString(r.content).message


def good_body() -> bytes:
    return trace_request([llm_span(new_trace_id())]).SerializeToString()


@pytest.mark.parametrize("body,content_type,status,reason", [
    (good_body()[:-7], PB, 400, "protobuf"),
    (b"\xff\xfe garbage", PB, 400, "protobuf"),
    (b'{"resourceSpans": [', "application/json", 400, "JSON"),
    (b'[1, 2]', "application/json", 400, "object"),
    (b'{"resourceSpans": "nope"}', "application/json", 400, "OTLP"),
    (good_body(), "text/plain", 415, "content type"),
    (good_body(), "", 415, "content type"),
])
def test_undecodable_bodies_get_a_clear_error(server, body, content_type, status, reason):
    r = post(server, body, content_type)
    assert r.status_code == status
    assert reason.lower() in message(r).lower()
    assert post(server, good_body()).status_code == 200  # still serving


def test_bad_ids_in_json_are_rejected_per_span(server):
    tid = new_trace_id()
    doc = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {"name": "t"}, "spans": [
        {"traceId": tid, "spanId": "00f067aa0ba902b7", "name": "ok", "kind": 3,
         "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000"},
        {"traceId": "not-hex", "spanId": "00f067aa0ba902b8", "name": "bad",
         "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000"},
    ]}]}]}
    r = post(server, json.dumps(doc).encode(), "application/json")
    assert r.status_code == 200
    assert r.json()["partialSuccess"]["rejectedSpans"] == "1"
    only_bad = {"resourceSpans": [{"scopeSpans": [{"spans": [doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]]}]}]}
    r = post(server, json.dumps(only_bad).encode(), "application/json")
    assert r.status_code == 400 and "trace_id" in message(r)


def test_oversized_and_gzip_bomb_bodies_get_413(server):
    limit = server.state.settings.limits.max_body_bytes
    r = post(server, b"\x00" * (limit + 1))
    assert r.status_code == 413 and "limit" in message(r)
    bomb = gzip.compress(b"\x00" * (server.state.settings.limits.max_decompressed_bytes + 1024), 9)
    assert len(bomb) < limit
    r = post(server, bomb, **{"Content-Encoding": "gzip"})
    assert r.status_code == 413 and "decompressed" in message(r)
    r = post(server, b"not gzip", **{"Content-Encoding": "gzip"})
    assert r.status_code == 400
    r = post(server, good_body(), **{"Content-Encoding": "br"})
    assert r.status_code == 415
    assert post(server, good_body()).status_code == 200


def test_huge_attribute_values_and_deep_nesting_are_stored_safely(server):
    tid = new_trace_id()
    deep: dict = {"leaf": "x"}
    for _ in range(25):  # AnyValue nests 3 messages per level; protobuf stops at 100
        deep = {"d": deep}
    huge = "A long answer. " * 50_000  # 750 KB
    s = llm_span(tid, **{"gen_ai.output.messages": json.dumps(
        [{"role": "assistant", "parts": [{"type": "text", "content": huge}]}]), "deep.attr": deep})
    r = post(server, trace_request([s]).SerializeToString())
    assert r.status_code == 200, message(r)
    server.wait_stored()
    with server.client() as c:
        stored = c.get(f"/api/traces/{tid}").json()["spans"][0]
    text = stored["output"][0]["content"]
    limit = server.state.settings.limits.max_text_chars
    assert len(text) <= limit + 100 and "truncated" in text  # the configured limit, with a marker
    assert stored["content_limits"].get("truncated", 0) >= 1
    assert "deep.attr" in stored["attributes"]


def test_auth_errors(server):
    r = post(server, good_body(), key=None)
    assert r.status_code == 401 and "missing API key" in message(r)
    r = post(server, good_body(), key="lp_wrong_key_wrong_key_wrong")
    assert r.status_code == 401 and "invalid" in message(r)
    read_only = server.new_key("read")
    r = post(server, good_body(), key=read_only)
    assert r.status_code == 403 and "ingest" in message(r)
    ingest_only = server.new_key("ingest")
    assert post(server, good_body(), key=ingest_only).status_code == 200
    with server.client(ingest_only) as c:
        assert c.get("/api/traces").status_code == 403
    with server.client("nope") as c:
        r = c.get("/api/traces")
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    with server.client() as c:
        key_id = next(k["key_id"] for k in c.get("/api/keys").json()["data"] if k["prefix"] == ingest_only[:10])
        assert c.post(f"/api/keys/{key_id}/revoke").status_code == 200
    r = post(server, good_body(), key=ingest_only)
    assert r.status_code == 401 and "revoked" in message(r)


def test_another_projects_key_sees_nothing(server):
    tid = new_trace_id()
    post(server, trace_request([span(tid, attrs={"user.id": "alice"})]).SerializeToString())
    other = server.new_key("ingest,read,admin", project="other-project")
    server.wait_stored()
    with server.client(other) as c:
        assert c.get(f"/api/traces/{tid}").status_code == 404
        assert c.get("/api/traces").json()["total"] == 0
        assert c.get("/api/spans").json()["total"] == 0
        assert c.delete(f"/api/traces/{tid}").status_code == 404
        assert c.delete("/api/users/alice").json()["deleted"]["traces_deleted"] == 0
        assert c.post("/api/keys", json={"name": "x", "scopes": ["read"], "project": "default"}).status_code == 403
    with server.client() as c:
        assert c.get(f"/api/traces/{tid}").status_code == 200


def test_garbage_never_takes_the_server_down(server):
    bodies = [b"", b"\x0a\xff\xff\xff\xff\x0f", b"\x0a" * 1000, json.dumps({"resourceSpans": [{}]}).encode()]
    for body in bodies:
        r = post(server, body)
        assert r.status_code in (200, 400)
    r = post(server, b"{" * 100_000, "application/json")
    assert r.status_code == 400
    assert httpx.get(server.url + "/healthz").status_code == 200
