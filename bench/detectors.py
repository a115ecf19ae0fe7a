"""Rubric detectors: precision, recall, F1 and support on their labelled sets, and throughput per evaluator.

Sets are judges/rubric/eval_sets/<name>.jsonl (development set) and <name>.holdout.jsonl (written after the
rules were frozen; see the README there). Throughput runs every built-in rubric on spans whose input and
output are realistic 1-2 KB texts (assistant answers and user messages from the sets, mostly ordinary,
some with refusals, PII, keys or injections), single-threaded, timed in process CPU time (best of N rounds)
so that other work on a shared machine does not count; a calibration loop is printed for comparison.

    .venv/bin/python bench/detectors.py            # both tables
    .venv/bin/python bench/detectors.py --rounds 3 --no-quality
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from judges.core import Target  # noqa: E402
from judges.rubric import BUILTIN_RUBRICS, build_rubric  # noqa: E402

SETS = Path(__file__).resolve().parents[1] / "judges" / "rubric" / "eval_sets"
DETECTORS = ("refusal", "escalation", "pii_output", "secrets", "prompt_injection", "jailbreak", "toxicity")
CONFIGS = {  # what a user would plausibly configure for the generic rubrics
    "regex": {"pattern": r"\b(?:globex|initech|umbrella corp)\b", "ignore_case": True},
    "keywords": {"keywords": ["refund", "chargeback", "cancel my account", "lawyer", "data breach"]},
    "length": {"min": 20, "max": 4000, "unit": "tokens"},
    "json_schema": {"schema": {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}}},
}


def rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def measure(name: str, data: list[dict]) -> tuple[float, float, float, int, int]:
    rubric = build_rubric({"type": name})
    field = rubric.config.field[0]
    tp = fp = fn = 0
    for row in data:
        [score] = rubric.evaluate(Target(level="span", target_id="s", **{field: row["text"]}))
        hit = score.value == 1.0
        tp += hit and row["label"] == 1
        fp += hit and row["label"] == 0
        fn += not hit and row["label"] == 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, tp + fn, len(data) - tp - fn


def quality_table() -> None:
    print("| detector | set | precision | recall | F1 | support (pos / neg) |")
    print("|---|---|---|---|---|---|")
    for name in DETECTORS:
        dev, holdout = rows(SETS / f"{name}.jsonl"), rows(SETS / f"{name}.holdout.jsonl")
        for label, data in (("dev", dev), ("holdout", holdout), ("all", dev + holdout)):
            if data:
                p, r, f1, pos, neg = measure(name, data)
                print(f"| {name} | {label} | {p:.3f} | {r:.3f} | {f1:.3f} | {pos} / {neg} |")


def spans(n: int, seed: int = 7) -> list[Target]:
    """n spans with 1-2 KB input and output, assembled from the labelled texts (mostly label 0)."""
    rng = random.Random(seed)
    pool = [r["text"] for name in DETECTORS for r in rows(SETS / f"{name}.jsonl")]
    ordinary = [r["text"] for name in DETECTORS for r in rows(SETS / f"{name}.jsonl") if r["label"] == 0]

    def text() -> str:
        size, parts = rng.randint(1000, 2000), []
        while sum(map(len, parts)) < size:
            parts.append(rng.choice(pool if rng.random() < 0.15 else ordinary))
        return "\n\n".join(parts)[:size]

    return [Target(level="span", target_id=f"s{i}", input=text(), output=text()) for i in range(n)]


def throughput_table(rounds: int) -> None:
    targets = spans(400)
    chars = sum(len(t.input) + len(t.output) for t in targets) / len(targets)
    t0 = time.process_time()
    sum(i * i for i in range(1_000_000))
    calibration = (time.process_time() - t0) * 1000
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n{len(targets)} spans, avg {chars:.0f} chars (input + output); one thread; best of {rounds} rounds of "
          f"process CPU time (the machine is shared); calibration: sum of 1e6 squares = {calibration:.0f} ms, "
          f"load average {load:.2f}\n")
    print("| rubric | fields read | spans/s | µs/span |")
    print("|---|---|---|---|")
    for kind in BUILTIN_RUBRICS:
        rubric = build_rubric({"type": kind, **CONFIGS.get(kind, {})})
        for t in targets[:20]:  # warm caches (rule files, regex compilation)
            rubric.evaluate(t)
        best = math.inf
        for _ in range(rounds):
            start = time.process_time()
            for t in targets:
                rubric.evaluate(t)
            best = min(best, (time.process_time() - start) / len(targets))
        fields = "+".join(rubric.config.field)
        print(f"| {kind} | {fields} | {1 / best:,.0f} | {best * 1e6:.1f} |")
    # How the worker runs them: every rubric on a span before the next span (text preparation is shared).
    rubrics = [build_rubric({"type": k, **CONFIGS.get(k, {})}) for k in BUILTIN_RUBRICS]
    best = math.inf
    for _ in range(rounds):
        start = time.process_time()
        for t in targets:
            for rubric in rubrics:
                rubric.evaluate(t)
        best = min(best, (time.process_time() - start) / len(targets))
    print(f"| all {len(rubrics)} on each span | | {1 / best:,.0f} | {best * 1e6:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="passes over the spans per rubric; the best counts")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--no-quality", action="store_true")
    args = parser.parse_args()
    if not args.no_quality:
        quality_table()
    if not args.no_throughput:
        throughput_table(args.rounds)


if __name__ == "__main__":
    main()
