"""Regressions: a prompt version that is really worse is found, one that is not is not; through the API."""

from __future__ import annotations

import numpy as np
import pytest

from analytics import regressions, stats
from analytics.window import Window
from tests.analytics.conftest import days_ago, hour_now, iso
from tests.analytics.synth import Mix, make_traffic

pytestmark = pytest.mark.timeout(120)
GOOD = (1, 2, 7)  # weights of 0, 0.5, 1
WORSE = (3, 2, 5)


def _seed(store) -> dict[str, set[str]]:
    """v1 good, v2 really worse on groundedness, v3 the same as v2; task completion equal throughout."""
    ids = {}
    for i, (version, grounded) in enumerate((("v1", GOOD), ("v2", WORSE), ("v3", WORSE))):
        mix = Mix(prompt=("support_answer", version), graded={"groundedness": grounded, "task_completion": (1, 1, 8)},
                  scores={"pii_output": 0.02})
        start, end = days_ago(6 - 2 * i), days_ago(4 - 2 * i)
        ids[version] = set(make_traffic(store, "default", start, end, 300, mix, seed=20 + i))
    return ids


def test_compare_finds_the_worse_version_with_its_traces(serve_with, store) -> None:
    server, ids = serve_with(), _seed(store)
    params = {"by": "prompt_version", "a": "support_answer:v1", "b": "support_answer:v2",
              "start": iso(days_ago(7)), "end": iso(hour_now())}
    with server.client() as c:
        r = c.get("/api/regressions/compare", params=params)
        same = c.get("/api/regressions/compare", params={**params, "a": "support_answer:v2",
                                                         "b": "support_answer:v3"}).json()
        groups = c.get("/api/regressions/groups", params={"start": iso(days_ago(7))}).json()["data"]
    assert r.status_code == 200, r.text
    body = r.json()
    by_name = {e["name"]: e for e in body["evaluators"]}
    g = by_name["groundedness"]
    assert g["regressed"] and g["ci_high"] < 0 and g["p_adjusted"] < 0.001 and g["test"] == "Mann-Whitney U"
    assert abs(g["diff"] - (-0.2)) < 0.07  # the injected drop: 0.8 → 0.6
    assert not by_name["task_completion"]["regressed"] and not by_name["pii_output"]["regressed"]
    assert g["examples"] and all(e["trace_id"] in ids["v2"] and e["value"] == 0.0 for e in g["examples"])
    assert [x["name"] for x in body["regressions"]] == ["groundedness"]
    assert not same["regressions"]
    assert [x["group"] for x in groups] == ["support_answer:v1", "support_answer:v2", "support_answer:v3"]


def test_versions_against_predecessors_and_the_prompt_regression_rate(serve_with, store) -> None:
    server = serve_with()
    _seed(store)
    with server.client() as c:
        body = c.get("/api/regressions/versions", params={"start": iso(days_ago(7))}).json()
    pairs = {(p["group"], p["previous"]): p["regressed"] for p in body["data"]}
    assert pairs == {("support_answer:v2", "support_answer:v1"): True,
                     ("support_answer:v3", "support_answer:v2"): False}
    assert body["prompt_regression_rate"] == {"value": 0.5, "tested": 2}
    rate, tested, _ = regressions.prompt_regression_rate(store, "default", Window(days_ago(7), hour_now()))
    assert (rate, tested) == (0.5, 2)


def test_week_over_week_periods(serve_with, store) -> None:
    server = serve_with()
    make_traffic(store, "default", days_ago(4), days_ago(2), 300, Mix(graded={"groundedness": GOOD}), seed=31)
    make_traffic(store, "default", days_ago(2), hour_now(), 300, Mix(graded={"groundedness": WORSE}), seed=32)
    with server.client() as c:
        body = c.get("/api/regressions/periods", params={"start": iso(days_ago(2)), "end": iso(hour_now())}).json()
    assert [r["name"] for r in body["regressions"]] == ["groundedness"]
    assert body["evaluators"][0]["n_a"] == 300 and body["evaluators"][0]["n_b"] == 300


def test_minimum_samples_and_false_alarms_of_the_corrected_family() -> None:
    """Equal versions over many seeds: the Holm-corrected family of four evaluators rarely alarms."""
    rng = np.random.default_rng(40)
    alarms, runs = 0, 200
    for i in range(runs):
        def group() -> dict:
            return {(name, "llm_judge"): stats.Hist.of(rng.choice([0, 0.5, 1], size=120, p=[0.1, 0.2, 0.7]))
                    for name in ("groundedness", "answer_relevance", "task_completion", "helpfulness")}
        rows = regressions.compare_hists(group(), group(), seed=i)
        alarms += any(r["significant"] for r in rows)
    assert alarms / runs <= 0.07  # family-wise: at most α (Holm), plus sampling noise
    few = regressions.compare_hists({("g", "llm_judge"): stats.Hist.of([1.0] * 20)},
                                    {("g", "llm_judge"): stats.Hist.of([0.0] * 20)})
    assert not few[0]["enough"] and not few[0]["regressed"] and few[0]["p_adjusted"] is None


def test_regressions_need_a_key_and_stay_in_their_project(serve_with, store) -> None:
    server = serve_with()
    _seed(store)
    other = server.new_key("read", project="elsewhere")
    with server.client("wrong") as c:
        assert c.get("/api/regressions/groups").status_code == 401
    with server.client(other) as c:
        assert c.get("/api/regressions/groups", params={"start": iso(days_ago(7))}).json()["data"] == []
