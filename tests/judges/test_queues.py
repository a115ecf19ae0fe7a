"""Annotation queues through the real API: assignment, human scores, rubric validation, auth."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from judges.sampling import sample_point
from store.rows import ScoreRow
from store.scores import insert_scores
from tests.judges.support import insert_spans, rag_trace, score_rows

pytestmark = pytest.mark.timeout(90)
RUBRIC = {"name": "answer_quality", "labels": [{"label": "good", "score": 1}, {"label": "bad", "score": 0}]}


def seed(server, n: int = 6, **fields) -> list[str]:
    now = datetime.now(UTC)
    traces = [rag_trace(now - timedelta(minutes=i), **fields) for i in range(n)]
    insert_spans(server.state.store, [r for t in traces for r in t])
    return [t[0].trace_id for t in traces]


def create(server, key: str | None = None, **body) -> dict:
    with server.client(key) as c:
        r = c.post("/api/queues", json={"name": "quality", "rubric": RUBRIC, **body})
        assert r.status_code == 201, r.text
        return r.json()


def test_reviewers_get_disjoint_items_and_sign_their_scores(server) -> None:
    shop = seed(server)
    seed(server, 3, service_name="elsewhere")
    queue = create(server, description="Was the answer right?", filter={"service": "shop"}, max_items=4)
    assert queue["progress"] == {"total": 4, "done": 0, "mine": 0}
    assert set(queue) == {"id", "name", "description", "rubric", "filter", "progress"}
    ann, bob = server.new_key("review", name="ann"), server.new_key("review", name="bob")
    qid = queue["id"]
    with server.client(ann) as a, server.client(bob) as b:
        first = a.get(f"/api/queues/{qid}/next").json()
        assert first["trace_id"] in shop and first["rubric"] == RUBRIC
        assert a.get(f"/api/queues/{qid}/next").json() == first  # still leased to ann
        other = b.get(f"/api/queues/{qid}/next").json()
        assert other["item_id"] != first["item_id"]
        assert b.post(f"/api/queues/{qid}/items/{first['item_id']}/score", json={"label": "good"}).status_code == 409

        wrong = a.post(f"/api/queues/{qid}/items/{first['item_id']}/score", json={"label": "meh"})
        assert wrong.status_code == 400 and wrong.json()["detail"]["valid_labels"] == ["good", "bad"]
        assert "good, bad" in wrong.json()["detail"]["message"]
        assert a.post(f"/api/queues/{qid}/items/{first['item_id']}/score",
                      json={"label": "good", "value": 0}).status_code == 400  # value and label disagree
        r = a.post(f"/api/queues/{qid}/items/{first['item_id']}/score", json={"label": "good", "comment": "fine"})
        assert r.status_code == 201 and r.json()["author"] == "ann"

        seen = {"ann": [first["item_id"]], "bob": []}
        current = {"bob": other}
        for name, client in [("bob", b), ("ann", a)] * 4:
            item = current.pop(name, None)
            if item is None:
                r = client.get(f"/api/queues/{qid}/next")
                if r.status_code == 204:
                    continue
                item = r.json()
            seen[name].append(item["item_id"])
            assert client.post(f"/api/queues/{qid}/items/{item['item_id']}/score", json={"value": 0}).status_code == 201
        assert a.get(f"/api/queues/{qid}/next").status_code == 204
        assert b.get(f"/api/queues/{qid}/next").status_code == 204
        progress = {q["id"]: q["progress"] for q in a.get("/api/queues").json()["data"]}[qid]
    assert not set(seen["ann"]) & set(seen["bob"]) and len(seen["ann"]) + len(seen["bob"]) == 4
    assert progress == {"total": 4, "done": 4, "mine": len(seen["ann"])}
    human = score_rows(server.state.store, source="human")
    assert len(human) == 4 and {r["author"] for r in human} == {"ann", "bob"}
    assert all(r["name"] == "answer_quality" and r["target_type"] == "trace" and r["target_id"] in shop
               for r in human)
    [signed] = [r for r in human if r["comment"] == "fine"]
    assert (signed["author"], signed["label"], signed["value"]) == ("ann", "good", 1.0)


def test_concurrent_requests_never_hand_one_item_to_two_reviewers(server) -> None:
    seed(server, 8)
    qid = create(server)["id"]
    keys = {name: server.new_key("review", name=name) for name in ("ann", "bob", "cy")}

    def ask(name: str) -> tuple[str, str]:
        with server.client(keys[name]) as c:
            return name, c.get(f"/api/queues/{qid}/next").json()["item_id"]

    with ThreadPoolExecutor(9) as pool:
        answers = list(pool.map(ask, [n for n in keys for _ in range(3)]))
    held = {name: {item for n, item in answers if n == name} for name in keys}
    assert all(len(items) == 1 for items in held.values())  # each reviewer always gets their one item back
    assert len(set().union(*held.values())) == 3  # and nobody else's


def test_filters_pick_the_traces(server) -> None:
    ids = seed(server, 6)
    claude = seed(server, 2, request_model="claude-3-5-haiku", response_model="")
    now = datetime.now(UTC)
    insert_scores(server.state.store, [
        ScoreRow(project="default", target_type="span", target_id=f"{i:016x}", trace_id=t, name="groundedness",
                 source="llm_judge", evaluator="groundedness", value=0.0 if i < 2 else 1.0, created_at=now,
                 updated_at=now) for i, t in enumerate(ids)])
    low = create(server, filter={"min_score": {"name": "groundedness", "lt": 0.5}})
    assert low["progress"]["total"] == 2
    assert create(server, filter={"model": "claude-3-5-haiku", "kind": "retriever"})["progress"]["total"] == 2
    assert create(server, filter={"environment": "production"})["progress"]["total"] == 0
    sampled = create(server, sample_rate=0.5, max_items=100)["progress"]["total"]
    assert sampled == sum(sample_point(t) < 0.5 for t in ids + claude)  # the judges' sample hash


def test_scale_rubrics_check_the_range(server) -> None:
    seed(server, 1)
    qid = create(server, rubric={"name": "stars", "scale": {"min": 1, "max": 5}})["id"]
    reviewer = server.new_key("review", name="ann")
    with server.client(reviewer) as c:
        item = c.get(f"/api/queues/{qid}/next").json()
        out = c.post(f"/api/queues/{qid}/items/{item['item_id']}/score", json={"value": 7})
        assert out.status_code == 400 and "from 1 to 5" in out.json()["detail"]["message"]
        assert c.post(f"/api/queues/{qid}/items/{item['item_id']}/score", json={"value": 4}).status_code == 201
    with server.client() as c:
        assert c.post("/api/queues", json={"name": "x", "rubric": {"name": "nothing"}}).status_code == 422


def test_auth_scopes_and_other_projects(server) -> None:
    seed(server, 2)
    qid = create(server)["id"]
    item_path = f"/api/queues/{qid}/items/0000000000000000/score"
    reader, reviewer = server.new_key("read", name="r"), server.new_key("review", name="ann")
    outsider = server.new_key("review,read", project="elsewhere", name="eve")
    with server.client("lp_not_a_key") as c:
        assert c.get("/api/queues").status_code == 401
        assert c.get(f"/api/queues/{qid}/next").status_code == 401
    with server.client(reader) as c:
        assert c.get("/api/queues").status_code == 200
        assert c.get(f"/api/queues/{qid}/next").status_code == 403
        assert c.post(item_path, json={"label": "good"}).status_code == 403
    with server.client(reviewer) as c:
        assert len(c.get("/api/queues").json()["data"]) == 1  # reviewers list queues too
        assert c.post("/api/queues", json={"name": "x", "rubric": RUBRIC}).status_code == 403
        assert c.post(item_path, json={"label": "good"}).status_code == 404
    with server.client(outsider) as c:
        assert c.get("/api/queues").json() == {"data": []}
        assert c.get(f"/api/queues/{qid}/next").status_code == 404
        assert c.post(item_path, json={"label": "good"}).status_code == 404
