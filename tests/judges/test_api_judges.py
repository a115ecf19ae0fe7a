"""The judges in a running collector: the worker inside `serve`, status and metrics, backfills (API and CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import ROOT
from tests.judges.support import insert_spans, rag_trace, score_rows
from tests.support.otlp import llm_span, new_trace_id, trace_request

pytestmark = pytest.mark.timeout(120)


def wait_for(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_the_worker_runs_inside_serve_and_reports_its_lag(judge_server) -> None:
    server = judge_server(enabled=True)
    body = trace_request([llm_span(new_trace_id()) for _ in range(5)]).SerializeToString()
    r = httpx.post(f"{server.url}/v1/traces", content=body, timeout=30,
                   headers={"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {server.admin_key}"})
    assert r.status_code == 200
    server.wait_stored()
    wait_for(lambda: len(score_rows(server.state.store, evaluator="refusal")) == 5)
    with server.client() as c:
        status = wait_for(lambda: (s := c.get("/api/judges/status").json())["worker"]["pending_spans"] == 0 and s)
        metrics = c.get("/metrics").text
    assert status["enabled"] and status["running"] and status["worker"]["lag_s"] == 0
    assert status["worker"]["evaluations"]["refusal"]["scored"] == 5
    assert status["evaluators"]["refusal"] == {"level": "span", "source": "rubric",
                                               "version": status["evaluators"]["refusal"]["version"]}
    assert [s["level"] for s in status["shards"] if s["worker"] == "shard-0-of-1"] == ["span"]
    assert 'loupe_judge_lag_seconds{shard="0/1"}' in metrics
    assert 'loupe_judge_evaluations_total{evaluator="refusal",outcome="scored"} 5.0' in metrics
    with server.client("lp_nope") as c:
        assert c.get("/api/judges/status").status_code == 401


def seed_history(server, n: int = 4) -> datetime:
    past = datetime.now(UTC) - timedelta(days=2)
    insert_spans(server.state.store, [r for i in range(n) for r in rag_trace(past - timedelta(minutes=i))])
    return past


def test_backfill_estimate_then_job_through_the_api(judge_server) -> None:
    server = judge_server()
    seed_history(server)
    body = {"since": (datetime.now(UTC) - timedelta(days=3)).isoformat(), "evaluator": "groundedness"}
    with server.client() as c:
        est = c.post("/api/judges/backfill/estimate", json=body).json()
        assert (est["level"], est["candidates"], est["already_scored"], est["to_score"]) == ("span", 12, 0, 4)
        assert est["cost_method"] == "tokens" and 0 < est["estimated_cost_usd"] < 0.01
        started = c.post("/api/judges/backfill", json=body)
        assert started.status_code == 202
        job_id = started.json()["job_id"]
        job = wait_for(lambda: (j := c.get(f"/api/judges/jobs/{job_id}").json())["status"] == "done" and j)
        assert (job["total"], job["done"], job["scored"], job["errors"], job["progress"]) == (4, 4, 4, 0, 1.0)
        assert job["cost_usd"] > 0 and job["created_by"] == "bootstrap"
        again = c.post("/api/judges/backfill/estimate", json=body).json()
        assert (again["already_scored"], again["to_score"]) == (4, 0)
        assert again["cost_method"] == "tokens"  # fewer than 5 past evaluations: no history to average yet
        unknown = c.post("/api/judges/backfill/estimate", json={**body, "evaluator": "nope"})
        assert unknown.status_code == 400 and "groundedness" in unknown.json()["detail"]
        rubric = c.post("/api/judges/backfill/estimate", json={**body, "evaluator": "refusal"}).json()
        assert rubric["to_score"] == 4 and rubric["estimated_cost_usd"] == 0.0  # the rule's kind: llm spans
    rows = score_rows(server.state.store, evaluator="groundedness")
    assert len(rows) == 4 and all(r["label"] == "grounded" for r in rows)
    reader = server.new_key("read", name="r")
    with server.client(reader) as c:
        assert c.post("/api/judges/backfill/estimate", json=body).status_code == 403
        assert c.get(f"/api/judges/jobs/{job_id}").status_code == 200
    with server.client(server.new_key("read", project="elsewhere", name="x")) as c:
        assert c.get(f"/api/judges/jobs/{job_id}").status_code == 404


def loupe(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "collector.cli", *args], capture_output=True, text=True,
                          timeout=90, cwd=ROOT, input=stdin)


def test_backfill_cli_prints_the_estimate_asks_and_shows_progress(judge_server) -> None:
    server = judge_server()
    seed_history(server, 3)
    flags = ["--url", server.url, "--api-key", server.admin_key]
    refused = loupe("judges", "backfill", "--since", "3d", "--evaluator", "groundedness", *flags, stdin="")
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert "3 to score" in refused.stdout and score_rows(server.state.store) == []
    done = loupe("judges", "backfill", "--since", "3d", "--evaluator", "groundedness", "--yes", "--poll", "0.1", *flags)
    assert done.returncode == 0, done.stderr
    assert "3 to score" in done.stdout and "estimated cost: $" in done.stdout
    assert ": done — 3 scored, 0 errors" in done.stdout
    assert "100% 3/3" in done.stderr  # the progress bar
    assert len(score_rows(server.state.store, evaluator="groundedness")) == 3
    nothing = loupe("judges", "backfill", "--since", "3d", "--evaluator", "groundedness", "--yes", *flags)
    assert nothing.returncode == 0 and "Nothing to do" in nothing.stdout


def test_loupe_judges_runs_a_shard_against_its_own_store(tmp_path: Path, model) -> None:
    from tests.judges.conftest import judges_section

    (tmp_path / "loupe.yaml").write_text(yaml.safe_dump({"judges": judges_section(model.base_url)}))
    out = loupe("judges", "--once", "--shard", "1/2", "--config", str(tmp_path / "loupe.yaml"),
                "--data-dir", str(tmp_path / "data"))
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["worker"] == "shard-1-of-2" and status["cycles"] == 1 and status["last_error"] == ""
    bad = loupe("judges", "--once", "--shard", "2/2", "--data-dir", str(tmp_path / "data2"))
    assert bad.returncode != 0 and "0 ≤ i < N" in bad.stderr
