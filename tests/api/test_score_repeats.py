"""Scores written more than once: the writer marks the key `repeated`, reads count its newest value once.

Reads group only marked keys (analytics/scoresql.latest_scores); these tests are what keeps that honest:
a changed mind, two versions in one batch, an evaluation event replayed, and rows stored before the
mark existed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from analytics import scoresql
from store.migrate import load_migrations
from store.rows import ScoreRow
from store.scores import insert_scores
from tests.api.test_trace_list_table import HOUR_NS, ingest, request
from tests.support.otlp import kvs, llm_span, new_trace_id, span


def _rows(server, name: str) -> list[tuple]:
    return server.state.store.query_rows(
        "SELECT author, value, repeated, trace_start FROM scores WHERE name = {n:String} ORDER BY updated_at",
        {"n": name})


def _summary(server, name: str) -> dict:
    with server.client() as c:
        [found] = [s for s in c.get("/api/scores/summary").json()["data"] if s["name"] == name]
    return found


@pytest.mark.parametrize("max_repeated", [5000, 0], ids=["keys-passed", "keys-subquery"])
def test_a_changed_mind_counts_once_with_its_newest_value(server, monkeypatch, max_repeated):
    # Reads pass the repeated keys they looked up, or (past MAX_REPEATED) find them with a subquery.
    monkeypatch.setattr(scoresql, "MAX_REPEATED", max_repeated)
    name = f"rq_mind_{max_repeated}"
    tid = new_trace_id()
    ingest(server, request(tid, time.time_ns() - HOUR_NS, "rated"))
    with server.client() as c:
        for author, value in (("ann", 0), ("ann", 1), ("bob", 0.4)):
            assert c.post("/api/scores", json={"target_id": tid, "name": name, "value": value,
                                               "author": author}).status_code == 201
        series = c.get("/api/scores/series", params={"bucket": "day", "name": name}).json()["data"]
        high = c.get("/api/traces", params={"score": f"{name}>=0.9"}).json()
        low = c.get("/api/traces", params={"score": f"{name}<0.1"}).json()
    # ann's second answer found her first: both rows stay until a merge, only the second is marked.
    assert [(a, v, r) for a, v, r, _ in _rows(server, name)] == [("ann", 0, 0), ("ann", 1, 1), ("bob", 0.4, 0)]
    summary = _summary(server, name)
    assert summary["n"] == 2 and summary["mean"] == pytest.approx(0.7)
    assert sum(p["n"] for p in series) == 2 and sum(p["n"] * p["mean"] for p in series) == pytest.approx(1.4)
    assert [t["trace_id"] for t in high["data"]] == [tid]
    assert low["data"] == []  # ann's 0 was replaced


def test_two_versions_in_one_batch_are_both_marked_and_the_newer_wins(server):
    tid = new_trace_id()
    ingest(server, request(tid, time.time_ns() - HOUR_NS, "batched"))
    now = datetime.now(UTC)
    rows = [ScoreRow(project="default", target_type="trace", target_id=tid, trace_id=tid, name="rq_batch",
                     source="human", author="cy", value=v, created_at=now, updated_at=now + timedelta(seconds=i))
            for i, v in enumerate((0.0, 1.0))]
    insert_scores(server.state.store, rows)
    stored = _rows(server, "rq_batch")
    # ClickHouse may collapse the pair within the insert; whatever is left is marked.
    assert stored and all(r[2] == 1 for r in stored) and stored[-1][1] == 1.0
    assert stored[-1][3].timestamp() > 0  # stamped with its trace
    summary = _summary(server, "rq_batch")
    assert summary["n"] == 1 and summary["mean"] == 1.0


def test_evaluation_events_are_stamped_and_a_resent_batch_counts_once(server):
    tid = new_trace_id()
    start = time.time_ns() - 2 * HOUR_NS
    root = span(tid, name="answer", start_ns=start, duration_ms=2000, attrs={"user.id": "u-eval"})
    answer = llm_span(tid, parent=root.span_id.hex())
    ev = Span.Event(name="gen_ai.evaluation.result", time_unix_nano=start + 1_000_000_000)
    ev.attributes.extend(kvs({"gen_ai.evaluation.name": "rq_event", "gen_ai.evaluation.score.value": 0.25}))
    answer.events.append(ev)
    ingest(server, [root, answer])
    [(_, value, repeated, trace_start)] = _rows(server, "rq_event")
    # Stamped at ingestion: its trace's start, so score views need no join for it.
    assert (value, repeated) == (0.25, 0)
    assert trace_start.timestamp() == pytest.approx(start / 1e9, abs=1e-3)
    stamped_user = server.state.store.query_rows("SELECT t_user FROM scores WHERE name = 'rq_event'")[0][0]
    assert stamped_user == "u-eval"

    ingest(server, [root, answer])  # an exporter's retry: the same evaluation again
    assert [r[2] for r in _rows(server, "rq_event")] in ([0, 1], [1])  # kept, or already collapsed by a merge
    summary = _summary(server, "rq_event")
    assert summary["n"] == 1 and summary["mean"] == 0.25


def test_the_migration_clears_the_mark_on_keys_stored_once(server):
    store = server.state.store
    tid, other = new_trace_id(), new_trace_id()
    cols = ["project", "target_type", "target_id", "trace_id", "name", "source", "author", "value", "created_at",
            "updated_at"]
    now = datetime.now(UTC)
    # As rows stored before migration 0054 read: no mark written, so the column's default (1) applies.
    store.insert("scores", [("default", "trace", tid, tid, "rq_old", "human", "a", 0.5, now, now),
                            ("default", "trace", other, other, "rq_old", "human", "a", 0.0, now, now)], cols)
    store.insert("scores", [("default", "trace", other, other, "rq_old", "human", "a", 1.0, now,
                             now + timedelta(seconds=1))], cols)
    assert {r[2] for r in _rows(server, "rq_old")} == {1}
    [migration] = [m for m in load_migrations() if m.version == 54]
    store.command(migration.statements[-1])
    for _ in range(100):  # a mutation: bounded wait for it to finish
        if not store.query_rows("SELECT count() FROM system.mutations WHERE table = 'scores' AND NOT is_done")[0][0]:
            break
        time.sleep(0.1)
    marks = dict(store.query_rows("SELECT target_id, groupArray(repeated) FROM scores WHERE name = 'rq_old' "
                                  "GROUP BY target_id"))
    assert marks[tid] == [0] and marks[other] in ([1, 1], [1])  # [1]: a merge already kept the newer row
