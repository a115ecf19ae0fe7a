"""The demo's traffic model: deterministic plans that tell the story the demo promises."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from collector.demo.scenario import MODELS, Scenario

END = datetime(2025, 3, 31, 12, tzinfo=UTC)


def plan(weeks: float = 4, per_day: float = 120, seed: int = 7) -> tuple[Scenario, list]:
    s = Scenario(END - timedelta(days=7 * weeks), END, per_day, seed)
    return s, s.plan()


def test_same_seed_same_plan_and_volume() -> None:
    s, a = plan()
    _, b = plan()
    assert [(i.start, i.session_id, i.turns) for i in a] == [(i.start, i.session_id, i.turns) for i in b]
    traces = sum(len(i.turns) for i in a)
    assert 0.75 * 120 * 28 < traces < 1.3 * 120 * 28
    assert all(s.start <= i.start < s.end for i in a)
    assert [i.start for i in a] == sorted(i.start for i in a)
    _, other = plan(seed=8)
    assert [i.session_id for i in other] != [i.session_id for i in a]


def test_prompt_versions_roll_out_in_order() -> None:
    s, sessions = plan()
    first = {v: min(i.start for i in sessions if i.prompt_version == v) for v in "123"}
    assert first["1"] < first["2"] < first["3"]
    assert s.fraction(first["3"]) >= 0.70
    late = Counter(i.prompt_version for i in sessions if s.fraction(i.start) > 0.8)
    assert late["3"] > late["2"] * 0.8 and late["1"] == 0  # v3 takes most of the traffic at the end
    assert {i.model for i in sessions} == set(MODELS)


def test_topic_drift_only_in_the_last_week() -> None:
    s, sessions = plan()
    plus = [i for i in sessions if i.turns[0].topic == "plus"]
    assert plus and all(i.start >= s.drift_start for i in plus)
    assert s.drift_start == END - timedelta(days=7)
    last_week = [i for i in sessions if i.start >= s.drift_start]
    assert len(plus) / len(last_week) > 0.15


def test_incidents_and_safety_traffic() -> None:
    s, sessions = plan()
    attack = [i for i in sessions if i.user.id == s.attacker.id]
    assert len(attack) >= 20 and all(s.attack[0] <= i.start < s.attack[1] for i in attack)
    flags = Counter(f for i in sessions for t in i.turns for f in t.flags)
    assert flags["injection"] > len(attack) and flags["pii"] > 100 and flags["abuse"] > 5
    outage = [i for i in sessions if i.conditions.outage_rate > 0]
    assert outage and all(s.outage[0] <= i.start < s.outage[1] for i in outage)
    assert any(i.conditions.slow_factor > 1 for i in sessions)
    assert Counter(len(i.turns) for i in sessions)[2] > 0  # multi-turn sessions exist
    assert len({i.user.id for i in sessions}) > 50


def test_short_windows_tell_the_same_story() -> None:
    s, sessions = plan(weeks=2 / 7, per_day=60, seed=3)
    assert {i.prompt_version for i in sessions} == {"1", "2", "3"}
    assert s.drift_start == END - timedelta(hours=12)
