"""How far LLM judges agree with people: the maths, on plain lists (no store, no web).

Pairs: a judge's latest score and the people's verdict on the same target and score name (several
reviewers: the most common label, the mean value). A trace-level human score also pairs with the
judge's score of the one span it judged in that trace — reviewers read traces, many judges score
the answer span. Agreement is Cohen's kappa when both sides give labels, else Spearman's rho.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any


def accuracy(a: Sequence[Any], b: Sequence[Any]) -> float | None:
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a) if a else None


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """(p_o - p_e) / (1 - p_e); None when undefined (chance agreement is 1 and the raters disagree)."""
    n = len(a)
    if n == 0:
        return None
    p_o = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    p_e = sum(ca[k] * cb[k] for k in ca.keys() | cb.keys()) / (n * n)
    if p_e >= 1.0:
        return 1.0 if p_o == 1.0 else None
    return (p_o - p_e) / (1 - p_e)


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    n = len(x)
    if n < 2:
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx, syy = sum((a - mx) ** 2 for a in x), sum((b - my) ** 2 for b in y)
    return None if sxx == 0 or syy == 0 else sxy / math.sqrt(sxx * syy)


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson on tie-averaged ranks; None when a side is constant."""
    return pearson(ranks(x), ranks(y))


def confusion(human: Sequence[str], judge: Sequence[str]) -> dict[str, Any]:
    """Rows: the people's label; columns: the judge's."""
    labels = sorted(set(human) | set(judge))
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for h, j in zip(human, judge, strict=True):
        matrix[index[h]][index[j]] += 1
    return {"labels": labels, "matrix": matrix, "rows": "human", "columns": "judge"}


def consensus(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    rows = list(rows)
    labels = Counter(r["label"] for r in rows if r.get("label"))
    values = [r["value"] for r in rows if r.get("value") is not None]
    label = min(labels, key=lambda k: (-labels[k], k)) if labels else ""
    return {"label": label, "value": sum(values) / len(values) if values else None, "reviewers": len(rows)}


def pairs(judge_rows: list[dict[str, Any]], human_rows: list[dict[str, Any]]) -> dict[tuple[str, str], list]:
    """(evaluator, name) → [(judge row, human consensus)]."""
    people: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for h in human_rows:
        people.setdefault((h["target_type"], h["target_id"], h["name"]), []).append(h)
    exact = {(j["evaluator"], j["target_type"], j["target_id"], j["name"]) for j in judge_rows}
    by_trace: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for j in judge_rows:
        if j["target_type"] == "span":
            by_trace.setdefault((j["evaluator"], j["trace_id"], j["name"]), []).append(j)
    out: dict[tuple[str, str], list] = {}
    for j in judge_rows:
        found = people.get((j["target_type"], j["target_id"], j["name"]))
        if found is None and j["target_type"] == "span" and \
                (j["evaluator"], "trace", j["trace_id"], j["name"]) not in exact and \
                len(by_trace[(j["evaluator"], j["trace_id"], j["name"])]) == 1:
            found = people.get(("trace", j["trace_id"], j["name"]))
        if found:
            out.setdefault((j["evaluator"], j["name"]), []).append((j, consensus(found)))
    return out


def agreement(matched: list, min_agreement: float, min_pairs: int) -> dict[str, Any]:
    labelled = [(j["label"], h["label"]) for j, h in matched if j.get("label") and h["label"]]
    numbers = [(j["value"], h["value"]) for j, h in matched if j.get("value") is not None and h["value"] is not None]
    kappa = cohen_kappa([h for _, h in labelled], [j for j, _ in labelled]) if labelled else None
    rho = spearman([h for _, h in numbers], [j for j, _ in numbers]) if len(numbers) >= 2 else None
    metric = "kappa" if labelled and len(labelled) >= len(numbers) else "spearman"
    used = labelled if metric == "kappa" else numbers
    value = kappa if metric == "kappa" else rho
    n = len(matched)
    if len(used) < min_pairs:
        flagged, reason = False, f"too few pairs to judge ({len(used)} < {min_pairs})"
    elif value is None:
        flagged, reason = False, f"{metric} is undefined: one side gives a single verdict throughout"
    else:
        flagged = value < min_agreement
        reason = f"{metric} {value:.2f} {'<' if flagged else '≥'} {min_agreement:g}"
    acc = accuracy([h for _, h in used], [j for j, _ in used]) if used else None
    return {"n": n, "pairs_labelled": len(labelled), "pairs_numeric": len(numbers), "accuracy": acc,
            "kappa": kappa, "spearman": rho, "metric": metric, "agreement": value,
            "confusion": confusion([h for _, h in labelled], [j for j, _ in labelled]) if labelled else None,
            "flagged": flagged, "reason": reason}


def calibrate(judge_rows: list[dict[str, Any]], human_rows: list[dict[str, Any]], judges: Iterable[str],
              min_agreement: float = 0.6, min_pairs: int = 10) -> list[dict[str, Any]]:
    """One entry per (LLM judge, score name) with human scores to compare, plus configured judges without."""
    matched = pairs(judge_rows, human_rows)
    versions: dict[str, set[str]] = {}
    for j in judge_rows:
        versions.setdefault(j["evaluator"], set()).add(j.get("evaluator_version", ""))
    out = [{"evaluator": ev, "name": name, "versions": sorted(versions.get(ev, ())),
            **agreement(found, min_agreement, min_pairs)} for (ev, name), found in sorted(matched.items())]
    for ev in sorted(set(judges) - {e for e, _ in matched}):
        out.append({"evaluator": ev, "name": None, "versions": sorted(versions.get(ev, ())),
                    **agreement([], min_agreement, min_pairs), "reason": "no human scores on the same targets yet"})
    return out
