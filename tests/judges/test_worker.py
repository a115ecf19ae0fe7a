"""The online worker against the embedded store and the LocalModel judge server on 127.0.0.1."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from judges.config import JudgesConfig, parse_judges
from judges.core import Score, Target
from judges.local_model import Faults, LocalModel
from judges.registry import build_evaluators
from judges.sampling import sample_point, shard_of
from judges.worker import Worker
from store.judging import watermarks
from tests.judges.conftest import VERDICT, judges_section
from tests.judges.support import insert_spans, llm_row, rag_trace, score_rows

pytestmark = pytest.mark.timeout(90)


def config(model: LocalModel | None, **over: Any) -> JudgesConfig:
    return parse_judges(judges_section(model.base_url if model else "http://127.0.0.1:9/v1", **over))


def worker(store, cfg: JudgesConfig, shard: tuple[int, int] = (0, 1), clock=None, evaluators=None) -> Worker:
    return Worker(store, cfg, evaluators or build_evaluators(cfg), shard=shard, clock=clock)


def seeded_ids(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.getrandbits(64):016x}" for _ in range(n)]


def llm_spans(n: int, at: datetime, seed: int = 7, **fields: Any) -> list:
    rows = []
    for i, span_id in enumerate(seeded_ids(n, seed)):
        row = llm_row(f"{i:032x}", ingested_at=at - timedelta(milliseconds=n - i), **fields)
        row.span_id = span_id
        rows.append(row)
    return rows


def test_sampling_rate_picks_the_hashed_subset_within_binomial_bounds(store) -> None:
    now = datetime.now(UTC)
    rows = llm_spans(400, now)
    insert_spans(store, rows)
    cfg = config(None, sampling=[{"evaluators": ["refusal"], "kind": "llm", "rate": 0.25}])
    w = worker(store, cfg)
    w.cycle()
    scored = {r["target_id"] for r in score_rows(store, evaluator="refusal")}
    assert scored == {r.span_id for r in rows if sample_point(r.span_id) < 0.25}  # the same spans on every run
    assert 100 - 4 * 8.7 <= len(scored) <= 100 + 4 * 8.7  # Binomial(400, 0.25): mean 100, sd 8.7
    assert w.counts["refusal"]["scored"] == len(scored)


def test_rules_filter_by_kind_model_service_and_tags(store) -> None:
    now = datetime.now(UTC)
    a = llm_row("a" * 32, ingested_at=now, tags=["vip"])
    b = llm_row("b" * 32, ingested_at=now, request_model="claude-3-5-haiku", response_model="")
    c = llm_row("c" * 32, ingested_at=now, service_name="other", tags=["vip"])
    tool = llm_row("d" * 32, ingested_at=now, kind="tool", tags=["vip"])
    insert_spans(store, [a, b, c, tool])
    cfg = config(None, sampling=[{"evaluators": ["refusal"], "kind": "llm", "model": "gpt-4o-mini",
                                  "service": "shop", "tags": ["vip"]}])
    worker(store, cfg).cycle()
    assert {r["target_id"] for r in score_rows(store)} == {a.span_id}


def test_budget_in_evaluations_stops_work_and_survives_a_restart(store) -> None:
    now = datetime.now(UTC)
    insert_spans(store, llm_spans(20, now))
    cfg = config(None, sampling=[{"evaluators": ["refusal"], "rate": 1.0, "daily_budget_evals": 5}])
    w = worker(store, cfg)
    w.cycle()
    assert len(score_rows(store)) == 5
    assert w.counts["refusal"]["skipped_budget"] == 15
    assert w.status()["budgets"][0]["exhausted"] is True
    insert_spans(store, llm_spans(5, datetime.now(UTC), seed=8))
    again = worker(store, cfg)  # a restart counts today's spend from the scores table
    again.cycle()
    assert len(score_rows(store)) == 5


def test_budget_in_dollars_stops_work(store, model: LocalModel) -> None:
    now = datetime.now(UTC)
    insert_spans(store, [row for i in range(12) for row in rag_trace(now - timedelta(milliseconds=i))])
    cfg = config(model, concurrency=1, sampling=[{"evaluators": ["groundedness"], "kind": "llm",
                                                  "daily_budget_usd": 0.0003}])
    w = worker(store, cfg)
    w.cycle()
    rows = score_rows(store, evaluator="groundedness")
    spent = sum(r["judge_cost_usd"] for r in rows)
    each = spent / len(rows)
    assert each > 0 and 1 <= len(rows) < 12
    assert spent <= 0.0003 + each  # at most the evaluation in flight when the budget ran out
    assert w.counts["groundedness"]["skipped_budget"] == 12 - len(rows)


def test_restart_resumes_from_the_watermark_without_duplicates(store, model: LocalModel) -> None:
    now = datetime.now(UTC)
    insert_spans(store, [row for i in range(5) for row in rag_trace(now - timedelta(seconds=i))])
    cfg = config(model, sampling=[{"evaluators": ["groundedness", "refusal"], "kind": "llm"}])
    first = worker(store, cfg)
    first.cycle()
    first.stop()
    assert len(score_rows(store)) == 10
    [mark] = [m for m in watermarks(store, "shard-0-of-1") if m["level"] == "span"]
    assert mark["watermark"] >= now

    second = worker(store, cfg)
    second.cycle()  # re-reads the overlap: everything there is already scored
    assert len(score_rows(store)) == 10
    assert second.counts["groundedness"]["skipped_scored"] == 5
    insert_spans(store, rag_trace(datetime.now(UTC)))
    second.cycle()
    rows = score_rows(store)
    assert len(rows) == 12
    keys = {(r["target_id"], r["name"], r["evaluator"], r["evaluator_version"]) for r in rows}
    assert len(keys) == len(rows)  # raw rows, no dedup at read: nothing was written twice


def test_two_shards_split_the_work_without_overlap(store) -> None:
    now = datetime.now(UTC)
    rows = llm_spans(60, now)
    insert_spans(store, rows)
    cfg = config(None)
    seen = []
    for i in range(2):
        before = {r["target_id"] for r in score_rows(store)}
        worker(store, cfg, shard=(i, 2)).cycle()
        mine = {r["target_id"] for r in score_rows(store)} - before
        assert mine and all(shard_of(t, 2) == i for t in mine)
        seen.append(mine)
    assert not seen[0] & seen[1]
    assert seen[0] | seen[1] == {r.span_id for r in rows}
    assert len(score_rows(store)) == 60


class Exploding:
    name, version, source, level = "exploding", "1", "rubric", "span"

    def evaluate(self, target: Target) -> list[Score]:
        if target.target_id.startswith(("0", "1", "2", "3", "4", "5", "6", "7")):
            raise RuntimeError("bug in a custom evaluator")
        return [Score(name="exploding", value=1.0, label="ok")]


def test_judge_failures_become_error_records_and_the_worker_keeps_going(store) -> None:
    faults = Faults(malformed_every=5, invalid_json_every=4, bad_label_every=3, rate_limit_every=7,
                    retry_after_s=0.01)
    with LocalModel(faults, judge=lambda body: VERDICT) as base_url:
        cfg = config(None, endpoint={"base_url": base_url, "model": "gpt-4o-mini", "max_attempts": 1,
                                  "max_invalid_retries": 0, "backoff_s": 0.01},
                     evaluators=[{"name": "groundedness", "type": "llm", "template": "groundedness"},
                                 {"name": "exploding", "type": "rubric", "rubric": {"type": "refusal"}}],
                     sampling=[{"evaluators": ["groundedness", "exploding"], "kind": "llm"}])
        evaluators = build_evaluators(cfg)
        evaluators["exploding"] = Exploding()
        now = datetime.now(UTC)
        insert_spans(store, [row for i in range(21) for row in rag_trace(now - timedelta(milliseconds=i))])
        w = worker(store, cfg, evaluators=evaluators)
        w.cycle()
    judged = score_rows(store, evaluator="groundedness")
    assert len(judged) == 21  # one row per answer, verdict or error
    errors = [r for r in judged if r["error"]]
    assert errors and all(r["value"] is None and r["label"] == "" for r in errors)
    kinds = ("HTTP 429", "unreadable response body", "not valid JSON", "not one of the valid labels")
    assert {k for r in errors for k in kinds if k in r["error"]} == set(kinds)
    assert all(r["value"] == 1.0 for r in judged if not r["error"])
    exploded = score_rows(store, evaluator="exploding")
    assert len(exploded) == 21 and any("bug in a custom evaluator" in r["error"] for r in exploded)
    assert w.counts["groundedness"]["error"] == len(errors)


def test_groundedness_without_documents_is_not_applicable(store, model: LocalModel) -> None:
    insert_spans(store, [llm_row("e" * 32, ingested_at=datetime.now(UTC))])
    cfg = config(model, sampling=[{"evaluators": ["groundedness"], "kind": "llm"}])
    w = worker(store, cfg)
    w.cycle()
    assert score_rows(store) == [] and w.counts["groundedness"]["not_applicable"] == 1
    assert len(model.requests) == 0


def test_trace_and_session_judges_wait_until_quiet(store, model: LocalModel) -> None:
    t0 = datetime.now(UTC)
    clock = [t0]
    turns = [rag_trace(t0 - timedelta(seconds=5 - i), session_id="sess-1") for i in range(2)]
    insert_spans(store, [r for t in turns for r in t])
    cfg = config(model, quiet_s=30, evaluators=[
        {"name": "conversation", "type": "llm", "template": "conversation"},
        {"name": "session_conversation", "type": "llm", "template": "conversation", "level": "session"}],
        sampling=[{"evaluators": ["conversation", "session_conversation"]}])
    w = worker(store, cfg, clock=lambda: clock[0])
    w.cycle()
    assert score_rows(store) == []  # not quiet yet
    clock[0] = t0 + timedelta(seconds=31)
    w.cycle()
    rows = score_rows(store)
    assert sorted(r["target_type"] for r in rows) == ["session", "trace", "trace"]
    session = next(r for r in rows if r["target_type"] == "session")
    assert session["target_id"] == "sess-1" and session["trace_id"] == turns[1][0].trace_id
    prompts = [r["body"]["messages"][-1]["content"] for r in model.requests]
    assert any(p.count("user:") == 2 for p in prompts)  # the session judge saw both turns

    # A late span re-opens the trace: judged again once quiet, never before.
    late = llm_row(turns[0][0].trace_id, parent=turns[0][0].span_id, ingested_at=t0 + timedelta(seconds=40),
                   session_id="sess-1")
    insert_spans(store, [late])
    clock[0] = t0 + timedelta(seconds=50)
    w.cycle()
    assert len(score_rows(store)) == 3
    clock[0] = t0 + timedelta(seconds=71)
    w.cycle()
    rows = score_rows(store)
    assert len(rows) == 5  # the touched trace and its session again; the other trace is untouched
    assert sum(r["target_id"] == turns[0][0].trace_id for r in rows) == 2


def test_lag_and_pending_are_reported(store) -> None:
    now = datetime.now(UTC)
    cfg = config(None, initial_lookback_s=600)
    w = worker(store, cfg, clock=lambda: now)
    insert_spans(store, llm_spans(10, now - timedelta(seconds=100)))
    w.update_lag()
    status = w.status()
    assert status["pending_spans"] == 10 and 400 <= status["lag_s"] <= 600
    w.cycle()
    status = w.status()
    assert status["pending_spans"] == 0 and status["lag_s"] == 0 and status["cycles"] == 1
