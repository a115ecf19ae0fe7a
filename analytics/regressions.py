"""Regressions: score distributions of two groups — prompt versions, models, releases, or a window and the
one before it — compared evaluator by evaluator.

Per evaluator (score name and source): the difference of means (B − A) with a bootstrap 95 % CI, a
two-sided test (Mann–Whitney U; two-proportion z for 0/1 scores), Holm-corrected over the evaluators
compared, and at least 30 scores per group. A regression is a significant change in the worse direction
(analytics/window.py knows which scores are lower-is-better). Groups are trace-level facts from the
`traces` rollup: a trace's prompt version, its models joined with '+' when it used several, its release.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from analytics import stats
from analytics.scoresql import latest_scores
from analytics.segments import ALL_TRAFFIC, Segment
from analytics.tracefacts import GROUPS, trace_facts
from analytics.window import QUALITY, Window, higher_is_better
from store.client import Store

ALPHA = 0.05
EXAMPLES = 5


def _split(w: Window, params: dict[str, Any], split: Window | None) -> str:
    """The group expression: the trace's fact, or which of two adjacent windows it fell in."""
    params.update(f_start=w.start, f_end=w.end)
    if split is None:
        return "t.g"
    params["split"] = split.start
    return "if(t.t_start >= {split:DateTime64(6)}, 'current', 'previous')"


Hists = dict[tuple[str, str], stats.Hist]


def score_hists(store: Store, project: str, w: Window, by: str | None, seg: Segment,
                split: Window | None = None, names: list[str] | None = None) -> dict[str, Hists]:
    """group -> (score name, source) -> histogram of values (rounded to 3 decimals)."""
    params: dict[str, Any] = {"project": project}
    group = _split(w, params, split)
    where = "project = {project:String} AND created_at >= toDate({f_start:DateTime64(6)}) - 1"
    if names:
        params["names"] = names
        where += " AND name IN {names:Array(String)}"
    rows = store.query_rows(
        f"SELECT {group} AS grp, s.name, s.source, round(s.value, 3) AS v, count() FROM ({latest_scores(where)}) AS s "
        f"INNER JOIN ({trace_facts(by, seg, params, scored=where)}) AS t ON s.trace_id = t.trace_id "
        "GROUP BY grp, s.name, s.source, v", params)
    pairs: dict[str, dict[tuple[str, str], dict[float, float]]] = {}
    for grp, name, source, v, n in rows:
        pairs.setdefault(grp, {}).setdefault((name, source), {})[v] = float(n)
    return {g: {k: stats.Hist.from_pairs(p) for k, p in by_name.items()} for g, by_name in pairs.items()}


def compare_hists(a: dict[tuple[str, str], stats.Hist], b: dict[tuple[str, str], stats.Hist],
                  correction: str = "holm", alpha: float = ALPHA, min_samples: int = stats.MIN_SAMPLES,
                  seed: int = 0) -> list[dict[str, Any]]:
    """Every evaluator side by side; `regressed` marks significant changes for the worse."""
    rows = []
    empty = stats.Hist.of([])
    for i, key in enumerate(sorted(set(a) | set(b))):
        diff = stats.compare(a.get(key, empty), b.get(key, empty), min_samples, seed=seed + i)
        rows.append({"name": key[0], "source": key[1], "higher_is_better": higher_is_better(key[0]), **diff.as_dict()})
    tested = [r["p_value"] if r["enough"] else None for r in rows]
    for r, p in zip(rows, stats.adjust(tested, correction), strict=True):
        r["p_adjusted"] = p
        worse = r["diff"] is not None and (r["diff"] < 0 if r["higher_is_better"] else r["diff"] > 0)
        r["significant"] = p is not None and p < alpha
        r["regressed"] = r["significant"] and worse
        r["improved"] = r["significant"] and not worse and bool(r["diff"])
    return rows


def example_traces(store: Store, project: str, w: Window, by: str | None, group: str, name: str, source: str,
                   seg: Segment, split: Window | None = None, limit: int = EXAMPLES) -> list[dict[str, Any]]:
    """The traces of group B that scored worst on one evaluator: the traces behind a drop."""
    params: dict[str, Any] = {"project": project, "name": name, "source": source, "grp": group, "limit": limit}
    expr = _split(w, params, split)
    where = ("project = {project:String} AND name = {name:String} AND source = {source:String} "
             "AND created_at >= toDate({f_start:DateTime64(6)}) - 1")
    order = "s.value ASC" if higher_is_better(name) else "s.value DESC"
    return store.query(
        f"SELECT s.trace_id AS trace_id, s.value AS value, s.label AS label, s.rationale AS rationale, "
        f"t.t_start AS start_time FROM ({latest_scores(where, ', argMax(rationale, updated_at) AS rationale')}) AS s "
        f"INNER JOIN ({trace_facts(by, seg, params, scored=where)}) AS t ON s.trace_id = t.trace_id "
        f"WHERE {expr} = {{grp:String}} "
        f"ORDER BY {order}, s.trace_id LIMIT 1 BY s.trace_id LIMIT {{limit:UInt32}}", params)


def _with_examples(store: Store, project: str, w: Window, by: str | None, group: str, seg: Segment,
                   rows: list[dict[str, Any]], split: Window | None = None) -> list[dict[str, Any]]:
    for r in rows:
        r["examples"] = (example_traces(store, project, w, by, group, r["name"], r["source"], seg, split)
                         if r["regressed"] else [])
    return rows


def compare_groups(store: Store, project: str, w: Window, by: str, a: str, b: str, seg: Segment = ALL_TRAFFIC,
                   correction: str = "holm", alpha: float = ALPHA, min_samples: int = stats.MIN_SAMPLES,
                   names: list[str] | None = None) -> dict[str, Any]:
    """Group B (e.g. prompt v2) against group A (v1) over the window, every evaluator side by side."""
    if by not in GROUPS:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}")
    hists = score_hists(store, project, w, by, seg, names=names)
    rows = compare_hists(hists.get(a, {}), hists.get(b, {}), correction, alpha, min_samples)
    rows = _with_examples(store, project, w, by, b, seg, rows)
    return {"by": by, "a": a, "b": b, "start": w.start, "end": w.end, "segment": seg.as_dict(),
            "correction": correction, "alpha": alpha, "min_samples": min_samples, "evaluators": rows,
            "regressions": [r for r in rows if r["regressed"]]}


def compare_periods(store: Store, project: str, current: Window, seg: Segment = ALL_TRAFFIC,
                    correction: str = "holm", alpha: float = ALPHA, min_samples: int = stats.MIN_SAMPLES,
                    names: list[str] | None = None) -> dict[str, Any]:
    """The window against the one of equal length before it (a week and the week before)."""
    previous = current.previous()
    hists = score_hists(store, project, Window(previous.start, current.end), None, seg, split=current, names=names)
    rows = compare_hists(hists.get("previous", {}), hists.get("current", {}), correction, alpha, min_samples)
    rows = _with_examples(store, project, Window(previous.start, current.end), None, "current", seg, rows, current)
    return {"by": "period", "a": "previous", "b": "current", "start": current.start, "end": current.end,
            "previous_start": previous.start, "segment": seg.as_dict(), "correction": correction, "alpha": alpha,
            "min_samples": min_samples, "evaluators": rows, "regressions": [r for r in rows if r["regressed"]]}


def list_groups(store: Store, project: str, w: Window, by: str, seg: Segment = ALL_TRAFFIC,
                scored_only: bool = False) -> list[dict[str, Any]]:
    """The values of a grouping seen in the window, oldest first, with their traffic and scored traces.

    `scored_only` looks at scored traces alone (much cheaper on big windows; `traces` then counts those).
    """
    if by not in GROUPS:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}")
    params: dict[str, Any] = {"project": project, "f_start": w.start, "f_end": w.end}
    scored = "project = {project:String} AND created_at >= toDate({f_start:DateTime64(6)}) - 1"
    facts = trace_facts(by, seg, params, scored=scored if scored_only else None)
    return store.query(
        f"SELECT g AS group, count() AS traces, min(t_start) AS first_seen, max(t_start) AS last_seen, "
        f"countIf(trace_id IN (SELECT trace_id FROM scores WHERE {scored})) AS scored_traces "
        f"FROM ({facts}) WHERE g != '' GROUP BY g ORDER BY first_seen, g", params)


def release_regressions(store: Store, project: str, w: Window, by: str = "prompt_version", seg: Segment = ALL_TRAFFIC,
                        lookback: timedelta = timedelta(days=28), alpha: float = ALPHA,
                        min_samples: int = stats.MIN_SAMPLES, names: list[str] | None = None) -> list[dict[str, Any]]:
    """Each prompt version (or release) seen in the window against its predecessor.

    The predecessor is the same prompt's version first seen just before it; both are scored over
    [window start − lookback, window end), so a version that replaced its predecessor before the window
    still has a baseline. Pairs without `min_samples` scores on both sides are listed but not tested.
    """
    span = Window(w.start - lookback, w.end)
    groups = list_groups(store, project, span, by, seg, scored_only=True)
    hists = score_hists(store, project, span, by, seg, names=names)
    out = []
    family = (lambda g: g.rpartition(":")[0]) if by == "prompt_version" else (lambda g: "")
    by_family: dict[str, list[dict[str, Any]]] = {}
    for g in groups:
        by_family.setdefault(family(g["group"]), []).append(g)
    for versions in by_family.values():
        for prev, cur in zip(versions, versions[1:], strict=False):
            if cur["last_seen"].replace(tzinfo=w.start.tzinfo) < w.start:
                continue  # not active in the window
            rows = compare_hists(hists.get(prev["group"], {}), hists.get(cur["group"], {}), "holm", alpha, min_samples)
            rows = _with_examples(store, project, span, by, cur["group"], seg, rows)
            tested = any(r["enough"] for r in rows)
            out.append({"group": cur["group"], "previous": prev["group"], "first_seen": cur["first_seen"],
                        "tested": tested, "regressed": any(r["regressed"] for r in rows),
                        "evaluators": rows, "regressions": [r for r in rows if r["regressed"]]})
    return out


def prompt_regression_rate(store: Store, project: str, w: Window, min_samples: int = stats.MIN_SAMPLES,
                           alpha: float = ALPHA) -> tuple[float | None, int, list[dict[str, Any]]]:
    """The seed's "prompt regression rate": among prompt versions active in the window that could be
    tested against their predecessor (quality evaluators: groundedness, answer relevance, task completion,
    helpfulness), the share with a significant drop on any of them. Returns (rate, versions tested, detail).
    """
    pairs = release_regressions(store, project, w, "prompt_version", min_samples=min_samples, alpha=alpha,
                                names=list(QUALITY))
    tested = [p for p in pairs if p["tested"]]
    rate = sum(p["regressed"] for p in tested) / len(tested) if tested else None
    return rate, len(tested), pairs
