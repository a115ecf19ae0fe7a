"""Keys, scores and deletion through the API, with project isolation."""

from __future__ import annotations

import httpx

from tests.support.otlp import llm_span, new_trace_id, span, trace_request

PB = {"Content-Type": "application/x-protobuf"}


def ingest(server, spans) -> None:
    r = httpx.post(server.url + "/v1/traces", content=trace_request(spans).SerializeToString(),
                   headers={**PB, "Authorization": f"Bearer {server.admin_key}"})
    assert r.status_code == 200


def test_key_lifecycle(server):
    with server.client() as c:
        created = c.post("/api/keys", json={"name": "ci-bot", "scopes": ["ingest"]}).json()
        assert created["secret"].startswith("lp_") and created["project"] == "default"
        listed = c.get("/api/keys").json()["data"]
        assert all("secret" not in k and "key_hash" not in k for k in listed)
        rotated = c.post(f"/api/keys/{created['key_id']}/rotate").json()
        assert rotated["name"] == "ci-bot" and rotated["secret"] != created["secret"]
        states = {k["key_id"]: k["revoked_at"] for k in c.get("/api/keys").json()["data"]}
        assert states[created["key_id"]] is not None and states[rotated["key_id"]] is None
        assert c.post("/api/keys", json={"name": "x", "scopes": ["root"]}).status_code == 422
        assert c.post("/api/keys/doesnotexist/revoke").status_code == 404
    with server.client(rotated["secret"]) as c:
        assert c.get("/api/keys").status_code == 403
    with server.client(created["secret"]) as c:
        assert c.get("/api/keys").status_code == 401


def test_feedback_and_human_scores(server):
    tid = new_trace_id()
    ingest(server, [span(tid, name="root")])
    ingest_key = server.new_key("ingest", name="web-app")
    reviewer = server.new_key("review", name="alice")
    with server.client(ingest_key) as c:
        r = c.post("/api/scores", json={"target_id": tid, "name": "thumbs", "value": 1, "author": "end-user-9",
                                        "comment": "great"})
        assert r.status_code == 201 and r.json()["author"] == "end-user-9"
        # Feedback before its trace has landed is accepted too.
        early = {"target_id": new_trace_id(), "name": "thumbs", "value": 0}
        assert c.post("/api/scores", json=early).status_code == 201
        human = {"target_id": tid, "name": "h", "value": 1, "source": "human"}
        assert c.post("/api/scores", json=human).status_code == 403
        assert c.post("/api/scores", json={"target_id": tid, "name": "x", "value": "NaN"}).status_code == 422
    with server.client(reviewer) as c:
        for value in (0.2, 0.9):  # re-scoring replaces
            assert c.post("/api/scores", json={"target_id": tid, "name": "correct", "value": value,
                                               "source": "human", "author": "mallory"}).status_code == 201
    server.wait_stored()
    with server.client() as c:
        scores = c.get(f"/api/traces/{tid}").json()["scores"]
    by_name = {s["name"]: s for s in scores}
    assert by_name["thumbs"]["value"] == 1 and by_name["thumbs"]["source"] == "user_feedback"
    assert by_name["correct"]["value"] == 0.9 and by_name["correct"]["author"] == "alice"
    assert len([s for s in scores if s["name"] == "correct"]) == 1


def test_delete_trace_and_user_from_every_table(server):
    keep, gone = new_trace_id(), new_trace_id()
    user_a, user_b = new_trace_id(), new_trace_id()
    for tid in (keep, gone):
        ingest(server, [span(tid, name="root"), llm_span(tid)])
    for tid in (user_a, user_b):
        root = span(tid, name="root", attrs={"user.id": "user-42"})
        ingest(server, [llm_span(tid, parent=root.span_id.hex()), root])
    server.wait_stored()
    with server.client() as c:
        c.post("/api/scores", json={"target_id": gone, "name": "thumbs", "value": 1})
        c.post("/api/scores", json={"target_id": keep, "name": "thumbs", "value": 0, "author": "user-42"})
        r = c.delete(f"/api/traces/{gone}")
        assert r.status_code == 200 and r.json()["deleted"]["spans"] == 2 and r.json()["deleted"]["scores"] == 1
        assert c.get(f"/api/traces/{gone}").status_code == 404
        assert c.delete(f"/api/traces/{gone}").status_code == 404
        r = c.delete("/api/users/user-42")
        assert r.json()["deleted"]["traces_deleted"] == 2 and r.json()["deleted"]["spans"] == 4
        assert r.json()["deleted"]["feedback"] == 1
        assert c.get("/api/traces", params={"user_id": "user-42"}).json()["total"] == 0
        assert c.get(f"/api/traces/{keep}").status_code == 200
    store = server.state.store
    traced = [r[0] for r in store.query_rows(
        "SELECT table FROM system.columns WHERE database = currentDatabase() AND name = 'trace_id' AND table IN "
        "(SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree')")]
    assert {"spans", "trace_list", "trace_bounds", "logs", "scores"} <= set(traced)
    for table in traced:
        left = store.query_rows(f"SELECT count() FROM {table} WHERE trace_id IN {{t:Array(String)}}",
                                {"t": [gone, user_a, user_b]})[0][0]
        assert left == 0, table
    audit = store.query("SELECT actor, action, target FROM audit_log ORDER BY time")
    assert [a["target"] for a in audit] == [f"trace:{gone}", "user:user-42"]
    assert {a["actor"] for a in audit} == {"bootstrap"}
