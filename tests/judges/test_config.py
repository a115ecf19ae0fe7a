"""The `judges:` section: validation with useful messages, the demo config, and the sampling primitives."""

from __future__ import annotations

import hashlib

import pytest

from judges.config import JudgesConfigError, demo_config, parse_judges
from judges.llm import LLMJudge
from judges.registry import build_evaluators
from judges.sampling import Budget, Candidate, parse_shard, rule_matches, sample_point, shard_of, stable_hash


def test_defaults_are_off_and_empty() -> None:
    cfg = parse_judges(None)
    assert not cfg.enabled and cfg.evaluators == [] and cfg.calibration_min_agreement == 0.6


@pytest.mark.parametrize(("section", "message"), [
    ({"evaluators": [{"name": "g", "type": "llm"}]}, "needs `template`"),
    ({"evaluators": [{"name": "r", "type": "rubric"}]}, "needs `rubric"),
    ({"evaluators": [{"name": "a", "type": "rubric", "rubric": {"type": "refusal"}}] * 2}, "unique"),
    ({"sampling": [{"evaluators": ["ghost"]}]}, "unknown evaluator(s) ['ghost']"),
    ({"sampling": [{"evaluators": [], "rate": 2}]}, "judges.sampling.0.rate"),
    ({"concurency": 3}, "judges.concurency"),
])
def test_mistakes_are_named(section: dict, message: str) -> None:
    with pytest.raises(JudgesConfigError) as err:
        parse_judges(section)
    assert message in str(err.value)


def test_bad_templates_and_rubrics_fail_when_built() -> None:
    for evaluator, message in [({"name": "x", "type": "llm", "template": "no_such_template"}, "no built-in template"),
                               ({"name": "y", "type": "rubric", "rubric": {"type": "regex"}}, "evaluator 'y'")]:
        with pytest.raises(JudgesConfigError, match=message):
            build_evaluators(parse_judges({"evaluators": [evaluator]}))


def test_demo_config_builds_every_built_in_judge() -> None:
    cfg = parse_judges(demo_config("http://127.0.0.1:8011/v1", "local-judge"))
    evaluators = build_evaluators(cfg)
    llm = {n for n, e in evaluators.items() if isinstance(e, LLMJudge)}
    assert {"groundedness", "answer_relevance", "context_relevance", "task_completion", "helpfulness", "toxicity",
            "conversation"} <= llm
    assert {"refusal", "pii_output", "prompt_injection", "secrets"} <= set(evaluators) - llm
    assert cfg.enabled and all(evaluators[n] for r in cfg.sampling for n in r.evaluators)
    assert evaluators["groundedness"].config.model == "local-judge"


def test_hashes_match_clickhouse_halfmd5_and_split_evenly() -> None:
    assert stable_hash("abc") == 10376663631224000432  # SELECT halfMD5('abc')
    assert stable_hash("x") == int.from_bytes(hashlib.md5(b"x").digest()[:8], "big")
    ids = [f"{i:016x}" for i in range(2000)]
    assert abs(sum(shard_of(i, 2) for i in ids) - 1000) < 100
    assert abs(sum(sample_point(i) < 0.3 for i in ids) - 600) < 90
    assert parse_shard("1/3") == (1, 3)
    for bad in ("3/3", "x", "1/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_rules_match_sets_of_facts() -> None:
    cfg = parse_judges({"evaluators": [{"name": "r", "type": "rubric", "rubric": {"type": "refusal"}}],
                        "sampling": [{"evaluators": ["r"], "model": "gpt-4o", "tags": ["a", "b"]}]})
    rule = cfg.sampling[0]
    c = Candidate(level="trace", project="p", target_id="t", models=frozenset({"gpt-4o", "o3"}),
                  tags=frozenset({"a", "b", "c"}))
    assert rule_matches(rule, c)
    assert not rule_matches(rule, Candidate(level="trace", project="p", target_id="t", models=frozenset({"o3"}),
                                            tags=frozenset({"a", "b"})))


def test_budget_shares_reserves_and_settles() -> None:
    cfg = parse_judges({"evaluators": [{"name": "r", "type": "rubric", "rubric": {"type": "refusal"}}],
                        "sampling": [{"evaluators": ["r"], "daily_budget_evals": 5, "daily_budget_usd": 1.0}]})
    budget = Budget(cfg.sampling, shards=2)  # each shard gets 2.5 evaluations and $0.50
    budget.reset("2025-01-01", [(1, 0.1)])
    assert budget.reserve(0, "r") == 0.0
    budget.settle(0, "r", 0.0, 0.3)  # the mean cost is now $0.30
    assert budget.reserve(0, "r") is None  # 2 used + 1 would pass 2.5
    budget.reset("2025-01-01", [(0, 0.3)])
    assert budget.reserve(0, "r") is None  # $0.30 used + $0.30 expected passes $0.50
    budget.reset("2025-01-01", [(0, 0.0)])
    reserved = budget.reserve(0, "r")
    budget.settle(0, "r", reserved, None)  # did not run: the reservation comes back
    assert budget.snapshot()[0]["evals_used"] == 0 and budget.snapshot()[0]["usd_limit"] == 0.5


def test_the_cli_knows_the_judges_commands() -> None:
    from collector.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["serve", "--no-judges"]).no_judges is True
    backfill = parser.parse_args(["judges", "backfill", "--since", "7d", "--evaluator", "g", "--yes"])
    assert backfill.func.__name__ == "cmd_backfill" and backfill.since.tzinfo is not None
    worker = parser.parse_args(["judges", "--shard", "1/4", "--dsn", "http://ch:8123/loupe"])
    assert worker.func.__name__ == "cmd_worker" and worker.shard == "1/4"
