"""Judge calibration: the maths on hand-computed data, then through the API and the CLI."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from judges.calibration import calibrate, cohen_kappa, confusion, consensus, pairs, ranks, spearman
from store.rows import ScoreRow
from store.scores import insert_scores
from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(90)
HUMAN = ["a", "a", "b", "b", "a", "b", "a", "a", "b", "b"]
JUDGE = ["a", "b", "b", "b", "a", "a", "a", "a", "b", "b"]


def test_cohen_kappa_on_known_tables() -> None:
    # 8 of 10 agree; both raters say a 5 times: p_e = .5, kappa = (.8 - .5) / .5
    assert cohen_kappa(HUMAN, JUDGE) == pytest.approx(0.6)
    # yes/yes 20, yes/no 5, no/yes 10, no/no 15: p_o = .7, p_e = .5·.6 + .5·.4 = .5, kappa = .4
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(["x", "x"], ["x", "x"]) == 1.0  # one label, full agreement
    assert cohen_kappa(["x", "x"], ["y", "y"]) == pytest.approx(0.0)
    assert cohen_kappa([], []) is None


def test_spearman_with_ties_and_degenerate_input() -> None:
    assert ranks([10, 20, 20, 5]) == [2, 3.5, 3.5, 1]
    # ranks of y = [1, 2, 3.5, 5, 3.5]; sum dxdy = 8, sum dx² = 10, sum dy² = 9.5
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(95))
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [4, 4, 4]) is None


def test_confusion_and_consensus() -> None:
    c = confusion(HUMAN, JUDGE)
    assert c["labels"] == ["a", "b"] and c["matrix"] == [[4, 1], [1, 4]]
    people = consensus([{"label": "b", "value": 0.0}, {"label": "a", "value": 1.0}, {"label": "b", "value": 0.0}])
    assert people == {"label": "b", "value": pytest.approx(1 / 3), "reviewers": 3}


def row(target_type: str, target_id: str, trace_id: str, label: str, value: float, **kw) -> dict:
    return {"target_type": target_type, "target_id": target_id, "trace_id": trace_id, "name": "groundedness",
            "evaluator": kw.get("evaluator", "groundedness"), "evaluator_version": "1", "label": label,
            "value": value, "author": kw.get("author", "")}


def test_pairs_match_targets_and_fall_back_from_traces_to_the_one_judged_span() -> None:
    judged = [row("span", "s1", "t1", "a", 1), row("span", "s2", "t2", "a", 1), row("span", "s3", "t2", "b", 0),
              row("trace", "t3", "t3", "b", 0)]
    people = [row("trace", "t1", "t1", "a", 1, author="ann"), row("trace", "t2", "t2", "b", 0, author="ann"),
              row("trace", "t3", "t3", "a", 1, author="bob"), row("trace", "t3", "t3", "a", 1, author="cy")]
    found = pairs(judged, people)[("groundedness", "groundedness")]
    assert [(j["target_id"], h["label"], h["reviewers"]) for j, h in found] == [("s1", "a", 1), ("t3", "a", 2)]
    # t2 has two judged spans: which one the reviewer meant is unknown, so no pair.


def test_calibrate_flags_a_judge_below_the_level_and_reports_the_rest() -> None:
    judged = [row("trace", f"t{i}", f"t{i}", j, 1.0 if j == "a" else 0.0) for i, j in enumerate(JUDGE)]
    people = [row("trace", f"t{i}", f"t{i}", h, 1.0 if h == "a" else 0.0) for i, h in enumerate(HUMAN)]
    [entry, idle] = calibrate(judged, people, ["groundedness", "helpfulness"], min_agreement=0.7, min_pairs=10)
    assert entry["metric"] == "kappa" and entry["agreement"] == pytest.approx(0.6) and entry["n"] == 10
    assert entry["accuracy"] == pytest.approx(0.8) and entry["flagged"] is True
    assert entry["spearman"] == pytest.approx(0.6)  # on 0/1 values Spearman is the phi coefficient here
    assert idle["evaluator"] == "helpfulness" and idle["n"] == 0 and idle["flagged"] is False
    [few] = calibrate(judged[:4], people[:4], [], min_agreement=0.7, min_pairs=10)
    assert few["flagged"] is False and "too few pairs" in few["reason"]
    numeric = [dict(r, label="") for r in judged]
    [by_rank] = calibrate(numeric, [dict(r, label="") for r in people], [], min_agreement=0.7, min_pairs=10)
    assert by_rank["metric"] == "spearman" and by_rank["flagged"] is True and by_rank["confusion"] is None


def test_calibration_through_the_api_and_the_cli(judge_server) -> None:
    server = judge_server(calibration_min_agreement=0.7)
    now = datetime.now(UTC)
    spans = [f"{i:016x}" for i in range(10)]
    traces = [f"{i:032x}" for i in range(10)]
    insert_scores(server.state.store, [
        ScoreRow(project="default", target_type="span", target_id=s, trace_id=t, name="groundedness",
                 source="llm_judge", evaluator="groundedness", evaluator_version="1", label=label,
                 value=1.0 if label == "a" else 0.0, created_at=now, updated_at=now)
        for s, t, label in zip(spans, traces, JUDGE, strict=True)])
    reviewer = server.new_key("review", name="ann")
    with server.client(reviewer) as c:
        for t, label in zip(traces, HUMAN, strict=True):
            r = c.post("/api/scores", json={"target_type": "trace", "target_id": t, "name": "groundedness",
                                            "label": label, "value": 1.0 if label == "a" else 0.0, "source": "human"})
            assert r.status_code == 201, r.text
    with server.client() as c:
        body = c.get("/api/judges/calibration").json()
    assert body["min_agreement"] == 0.7
    [entry] = [e for e in body["data"] if e["evaluator"] == "groundedness"]
    assert entry["n"] == 10 and entry["kappa"] == pytest.approx(0.6) and entry["flagged"] is True
    assert entry["confusion"]["matrix"] == [[4, 1], [1, 4]]
    with server.client() as c:  # the dashboard's window: the reviews made in it; `end=` means until now
        week = c.get("/api/judges/calibration", params={"start": "2000-01-01T00:00:00Z", "end": ""}).json()
        later = c.get("/api/judges/calibration", params={"start": "2999-01-01T00:00:00"}).json()
    assert [e["n"] for e in week["data"] if e["evaluator"] == "groundedness"] == [10]
    assert [e["n"] for e in later["data"] if e["evaluator"] == "groundedness"] == [0]

    reader = server.new_key("read", project="elsewhere", name="other")
    with server.client(reader) as c:
        assert all(e["n"] == 0 for e in c.get("/api/judges/calibration").json()["data"])
    with server.client("lp_wrong") as c:
        assert c.get("/api/judges/calibration").status_code == 401

    out = subprocess.run([sys.executable, "-m", "collector.cli", "judges", "calibration", "--url", server.url,
                          "--api-key", server.admin_key, "--confusion", "--fail-on-flag"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 2, out.stderr
    assert "FLAGGED: kappa 0.60 < 0.7" in out.stdout and "groundedness" in out.stdout
