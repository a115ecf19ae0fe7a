"""A short demo backfill into a real `loupe serve`, checked the way a user would look at it: through the API."""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector.demo import GenerateResult, generate
from collector.demo.kb import words
from collector.demo.questions import INJECTIONS
from collector.demo.scenario import MODELS
from tests.conftest import ServeProcess, spawn_serve, stop_serve

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
DOMAINS = ("@gmail.com", "@outlook.com", "@yahoo.com", "@proton.me")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, GenerateResult, httpx.Client]]:
    serve = spawn_serve(Path(tmp_path_factory.mktemp("demo")))
    try:
        with serve.client() as admin:
            key = admin.post("/api/keys", json={"name": "demo-app", "scopes": ["ingest"]}).json()["secret"]
        result = generate(serve.url, key, weeks=2 / 7, traces_per_day=60, seed=3, end=_last_wednesday_evening())
        with serve.client() as client:
            deadline = time.monotonic() + 30
            while _total(client, result) < result.traces and time.monotonic() < deadline:
                time.sleep(0.2)
            yield serve, result, client
    finally:
        stop_serve(serve)


def _last_wednesday_evening() -> datetime:
    """The same plan on every run: the demo's traffic follows the hour and the weekday, so a window that ends
    now held anywhere from 1 to 33 sessions on prompt v3 (5 on a Saturday at 08:00 UTC, too few to compare)."""
    now = datetime.now(UTC)
    end = (now - timedelta(days=(now.weekday() - 2) % 7)).replace(hour=20, minute=0, second=0, microsecond=0)
    return end if end <= now else end - timedelta(days=7)


def _total(client: httpx.Client, result: GenerateResult, **params: Any) -> int:
    r = client.get("/api/traces", params={"start": (result.start - timedelta(hours=1)).isoformat(), "limit": 1,
                                          **params})
    return r.json()["total"]


def _all_traces(client: httpx.Client, result: GenerateResult, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = client.get("/api/traces", params={"start": (result.start - timedelta(hours=1)).isoformat(), "limit": 500,
                                              **params, **({"cursor": cursor} if cursor else {})})
        page = r.json()
        out += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return out


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def test_every_trace_lands_with_its_context(demo) -> None:
    _, result, client = demo
    traces = _all_traces(client, result)
    assert result.traces > 60 and len(traces) == result.traces and result.spans_dropped == 0
    assert {t["prompt_version"] for t in traces} - {""} == {"1", "2", "3"}
    assert all(t["error_count"] for t in traces if not t["prompt_version"])  # failed before the model call
    assert {t["prompt_name"] for t in traces} - {""} == {"support-answer"}
    assert set(MODELS) <= {m for t in traces for m in t["models"]}
    sessions = Counter(t["session_id"] for t in traces)
    assert 10 < len(sessions) < len(traces) and max(sessions.values()) >= 2  # multi-turn conversations
    assert len({t["user_id"] for t in traces}) > 5
    assert {t["service_name"] for t in traces} == {"acme-support"} and {t["environment"] for t in traces} == {
        "production"}
    ok = [t for t in traces if not t["error_count"]]  # a failed model call has no tokens: its cost is unknown
    assert all(t["cost_usd"] > 0 and not t["unpriced_count"] for t in ok)


def test_timestamps_spread_over_the_requested_window(demo) -> None:
    _, result, client = demo
    starts = sorted(_ts(t["start_time"]) for t in _all_traces(client, result))
    assert result.start <= starts[0] and starts[-1] <= datetime.now(UTC)
    assert starts[-1] - starts[0] > timedelta(days=1.5)
    quarter = (result.end - result.start) / 4
    per_quarter = Counter(int((s - result.start) / quarter) for s in starts)
    assert sorted(per_quarter) == [0, 1, 2, 3] and min(per_quarter.values()) >= 5
    ingested = {t["ingested_at"][:13] for t in _all_traces(client, result)}
    assert len(ingested) <= 2  # written now, time-stamped in the past


def test_errors_pii_and_injections(demo) -> None:
    _, result, client = demo
    assert _total(client, result, status="error") >= 1
    for domain in DOMAINS:
        assert _total(client, result, q=domain) == 0, f"an address at {domain} was stored unredacted"
    assert _total(client, result, q="[REDACTED:") >= 3
    attack = _all_traces(client, result, user_id="u-6666")  # the attack burst: one user, many injections
    assert len(attack) >= 6 and len({t["session_id"] for t in attack}) == len(attack)
    assert _total(client, result, tag="flagged:injection") >= 3  # the app's guardrail flags the obvious ones
    # Every attempt of the burst is stored as sent, and full-text search finds the ones that say "ignore"
    # (which of the phrasings a run draws depends on the window, so count them rather than guess).
    openings = [injection[:20] for injection in INJECTIONS]
    previews = [t["input_preview"] for t in attack]
    assert all(any(opening in preview for opening in openings) for preview in previews), previews
    ignoring = {t["trace_id"] for t in attack if "ignore" in t["input_preview"].lower()}
    found = {t["trace_id"] for t in _all_traces(client, result, q="ignore")}
    assert ignoring <= found


_DETAILS: dict[str, dict[str, Any]] = {}  # trace views are read-only: the tests share them


def _details(client: httpx.Client, result: GenerateResult, version: str, n: int = 25) -> list[dict[str, Any]]:
    out = []
    for t in _all_traces(client, result, prompt_version=version)[:n]:
        if t["trace_id"] not in _DETAILS:
            _DETAILS[t["trace_id"]] = client.get(f"/api/traces/{t['trace_id']}").json()
        out.append(_DETAILS[t["trace_id"]])
    return out


def _grounded(answer: str, docs: list[dict[str, Any]]) -> float:
    """Share of the answer's sentences that one retrieved document sentence states almost word for word."""
    evidence = [set(words(s)) for d in docs for s in re.split(r"(?<=[.!?])\s+", d.get("content") or "")]
    claims = [set(words(c)) for c in re.split(r"(?<=[.!?])\s+", re.sub(r"\[[\w-]+\]", "", answer)) if len(words(c)) > 2]
    ok = [c for c in claims if any(len(c & e) >= 0.7 * len(c) for e in evidence)]
    return len(ok) / len(claims) if claims else 1.0


def test_prompt_v3_is_really_worse_than_v2(demo) -> None:
    _, result, client = demo
    stats: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for version in ("2", "3"):
        # 150 a version: the window's 26 sessions on v3 and enough of v2's; the newest few alone held the
        # injection burst's refusals.
        for trace in _details(client, result, version, n=150):
            spans = trace["spans"]
            docs = [d for s in spans if s["kind"] == "retriever" for d in s["documents"] or []]
            llm = [s for s in spans if s["kind"] == "llm" and s["status"] == "ok"]
            root = next(s for s in spans if not s["parent_span_id"])
            if not docs or not llm or not isinstance(root["output"], str) or any(s["kind"] == "tool" for s in spans):
                continue  # knowledge questions only: order lookups and refunds have nothing to cite
            prompt_text = str(llm[0]["input"])
            stats[version]["context_in_prompt"].append('<doc id="' in prompt_text)
            if "human agent" in root["output"] or root["output"].startswith(("You're welcome", "I'm sorry, I can't")):
                continue  # answers that make no claim (hand-overs, pleasantries, refusals) are neither cited nor not
            stats[version]["cited"].append(bool(re.search(r"\[kb-[\w-]+\]", root["output"])))
            stats[version]["grounded"].append(_grounded(root["output"], docs))
            stats[version]["input_tokens"].append(llm[0]["input_tokens"])
    mean = {v: {k: sum(x) / len(x) for k, x in m.items()} for v, m in stats.items()}
    assert len(stats["2"]["grounded"]) >= 10 and len(stats["3"]["grounded"]) >= 5
    assert mean["2"]["context_in_prompt"] == 1.0 and mean["3"]["context_in_prompt"] == 0.0
    assert mean["2"]["cited"] > 0.8 and mean["3"]["cited"] == 0.0, mean
    assert mean["2"]["grounded"] > mean["3"]["grounded"] + 0.3, mean
    assert mean["3"]["input_tokens"] < mean["2"]["input_tokens"]  # why someone shipped it: cheaper


def test_spans_are_nested_and_timed_like_real_calls(demo) -> None:
    _, result, client = demo
    streamed = 0
    for trace in _details(client, result, "2", n=10):
        spans = {s["span_id"]: s for s in trace["spans"]}
        kinds = {s["kind"] for s in spans.values()}
        assert {"chain", "guardrail", "retriever", "embedding", "agent"} <= kinds
        for s in spans.values():
            parent = spans.get(s["parent_span_id"])
            if parent:
                assert _ts(parent["start_time"]) <= _ts(s["start_time"]) and _ts(s["end_time"]) <= _ts(
                    parent["end_time"]) + timedelta(milliseconds=1)
            if s["kind"] == "llm" and s["status"] == "ok":
                assert s["duration_ms"] > 150 and s["output_tokens"] > 0
                if s["stream"]:
                    streamed += 1
                    assert 100 < s["ttft_ms"] < s["duration_ms"]
            if s["kind"] == "tool":
                assert s["tool_calls"] and s["tool_calls"][0]["name"] in ("lookup_order", "issue_refund")
    assert streamed > 0


def test_end_user_feedback_is_stored(demo) -> None:
    _, result, client = demo
    assert result.feedback > 5
    thumbs = [s for v in ("1", "2", "3") for t in _details(client, result, v) for s in t["scores"]
              if s["name"] == "thumbs"]
    assert thumbs and {s["source"] for s in thumbs} == {"user_feedback"}
    assert {s["value"] for s in thumbs} <= {0.0, 1.0} and all(s["author"].startswith("u-") for s in thumbs)
