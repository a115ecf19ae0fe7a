"""Regressions: score distributions of two groups — prompt versions, models, releases, or a window and the
one before it — compared evaluator by evaluator.

Per evaluator (score name and source): the difference of means (B − A) with a bootstrap 95 % CI, a
two-sided test (Mann–Whitney U; two-proportion z for 0/1 scores), Holm-corrected over the evaluators
compared, and at least 30 scores per group. A regression is a significant change in the worse direction
(analytics/window.py knows which scores are lower-is-better). Groups are trace-level facts from the
`trace_list` rows: a trace's prompt version, its models joined with '+' when it used several, its release.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from analytics import stats
from analytics.scoresql import SCORE_ROW, latest_scores
from analytics.segments import ALL_TRAFFIC, Segment
from analytics.tracefacts import GROUPS, trace_facts
from analytics.window import QUALITY, Window, higher_is_better
from store.client import Store

ALPHA = 0.05
EXAMPLES = 5


def _split(w: Window, params: dict[str, Any], split: Window | None, cube: bool = False) -> str:
    """The group expression: the trace's fact, or which of two adjacent windows it fell in, or (cube) both
    as "period\tgroup" with periods current, previous (the window before `split`) and older."""
    params.update(f_start=w.start, f_end=w.end)
    if split is None:
        return "t.g"
    params.update(split=split.start, split_prev=split.previous().start)
    period = "multiIf(t.t_start >= {split:DateTime64(6)}, 'current', t.t_start >= {split_prev:DateTime64(6)}, " \
             "'previous', 'older')"
    return f"concat({period}, '\t', t.g)" if cube else period


Hists = dict[tuple[str, str], stats.Hist]


def score_hists(store: Store, project: str, w: Window, by: str | None, seg: Segment,
                split: Window | None = None, names: list[str] | None = None,
                seen: dict[str, list] | None = None, cube: bool = False) -> dict[str, Hists]:
    """group -> (score name, source) -> histogram of values (rounded to 3 decimals).

    `seen`, when given, is filled with each group's first and last scored trace start. With `cube` (and
    `split`), groups are "period\tgroup": one pass serves both a period comparison and a by-group one
    (see `fold`).
    """
    params: dict[str, Any] = {"project": project}
    group = _split(w, params, split, cube)
    where = "project = {project:String} AND created_at >= toDate({f_start:DateTime64(6)}) - 1"
    if names:
        params["names"] = names
        where += " AND name IN {names:Array(String)}"
    rows = store.query_rows(
        f"SELECT {group} AS grp, s.name, s.source, round(s.value, 3) AS v, count(), min(t.t_start), max(t.t_start) "
        f"FROM ({latest_scores(where, columns=SCORE_ROW)}) AS s "
        f"INNER JOIN ({trace_facts(by, seg, params, scored=where)}) AS t "
        "ON s.trace_id = t.trace_id GROUP BY grp, s.name, s.source, v", params)
    pairs: dict[str, dict[tuple[str, str], dict[float, float]]] = {}
    for grp, name, source, v, n, first, last in rows:
        pairs.setdefault(grp, {}).setdefault((name, source), {})[v] = float(n)
        if seen is not None:
            span = seen.setdefault(grp, [first, last])
            span[0], span[1] = min(span[0], first), max(span[1], last)
    return {g: {k: stats.Hist.from_pairs(p) for k, p in by_name.items()} for g, by_name in pairs.items()}


def fold(hists: dict[str, Hists], part: int, keep: set[str] | None = None) -> dict[str, Hists]:
    """Merge a cube's "period\tgroup" histograms by period (part 0) or group (part 1), from `keep` periods."""
    merged: dict[str, dict[tuple[str, str], dict[float, float]]] = {}
    for label, by_key in hists.items():
        period, _, group = label.partition("\t")
        if keep is not None and period not in keep:
            continue
        for key, h in by_key.items():
            into = merged.setdefault((period, group)[part], {}).setdefault(key, {})
            for v, n in zip(h.values.tolist(), h.counts.tolist(), strict=True):
                into[v] = into.get(v, 0.0) + n
    return {g: {k: stats.Hist.from_pairs(p) for k, p in by_key.items()} for g, by_key in merged.items()}


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


def example_traces(store: Store, project: str, w: Window, by: str | None, group: str, keys: list[tuple[str, str]],
                   seg: Segment, limit: int = EXAMPLES) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """For each (score name, source): the traces of `group` that scored worst — the traces behind a drop.

    Big windows hold millions of verdicts: the worst few hundred per evaluator are picked from the scores
    alone, then only those traces are looked up in `trace_list` (group, window, segment); when that leaves
    an evaluator short, the full join runs. Rationales (a wide column) are read last, for the traces found.
    """
    if not keys:
        return {}
    names = sorted({k[0] for k in keys})
    params: dict[str, Any] = {"project": project, "names": names, "grp": group, "limit": limit, "pool": limit * 40,
                              "lower": [n for n in names if not higher_is_better(n)], "f_start": w.start,
                              "f_end": w.end}
    where = ("project = {project:String} AND name IN {names:Array(String)} "
             "AND created_at >= toDate({f_start:DateTime64(6)}) - 1")
    key = "if(name IN {lower:Array(String)}, -value, value)"
    latest = latest_scores(where, columns=("name", "source", "trace_id", "value"))
    pool = store.query_rows(f"SELECT name, source, trace_id FROM ({latest}) ORDER BY name, source, {key}, "
                            "trace_id LIMIT {pool:UInt32} BY name, source", params)
    params["cands"] = sorted({r[2] for r in pool})
    rows = _worst(store, params, f"{where} AND trace_id IN {{cands:Array(String)}}", by, seg)
    pooled, kept = Counter((r[0], r[1]) for r in pool), Counter((r["name"], r["source"]) for r in rows)
    if any(n >= params["pool"] and kept[k] < limit for k, n in pooled.items()):  # the pool ran dry: look at all
        rows = _worst(store, params, where, by, seg)
    why = {}
    if rows:
        why = {(r["trace_id"], r["target_id"], r["name"]): r["rationale"] for r in store.query(
            "SELECT trace_id, target_id, name, argMax(rationale, updated_at) AS rationale FROM scores "
            "WHERE project = {project:String} AND trace_id IN {ids:Array(String)} AND name IN {names:Array(String)} "
            "GROUP BY trace_id, target_id, name", {"project": project, "ids": sorted({r["trace_id"] for r in rows}),
                                                    "names": names})}
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        r.pop("k")
        r["rationale"] = why.get((r["trace_id"], r.pop("target_id"), r["name"]), "")
        out.setdefault((r.pop("name"), r.pop("source")), []).append(r)
    return {k: v for k, v in out.items() if k in set(keys)}


def _worst(store: Store, params: dict[str, Any], where: str, by: str | None, seg: Segment) -> list[dict[str, Any]]:
    return store.query(
        "SELECT * FROM (SELECT s.trace_id AS trace_id, s.name AS name, s.source AS source, s.value AS value, "
        "s.label AS label, s.target_id AS target_id, t.t_start AS start_time, "
        "if(s.name IN {lower:Array(String)}, -s.value, s.value) AS k "
        f"FROM ({latest_scores(where, columns=SCORE_ROW)}) AS s "
        f"INNER JOIN ({trace_facts(by, seg, params, scored=where)}) AS t "
        "ON s.trace_id = t.trace_id WHERE t.g = {grp:String} "
        "ORDER BY name, source, k, trace_id LIMIT 1 BY name, source, trace_id) "
        "ORDER BY name, source, k, trace_id LIMIT {limit:UInt32} BY name, source", params)


def _with_examples(store: Store, project: str, w: Window, by: str | None, group: str, seg: Segment,
                   rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = example_traces(store, project, w, by, group, [(r["name"], r["source"]) for r in rows if r["regressed"]],
                           seg)
    for r in rows:
        r["examples"] = found.get((r["name"], r["source"]), [])
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


def period_hists(store: Store, project: str, current: Window, seg: Segment = ALL_TRAFFIC,
                 names: list[str] | None = None) -> dict[str, Hists]:
    """Score histograms of the window ("current") and of the one before it ("previous"), in one pass."""
    previous = current.previous()
    return score_hists(store, project, Window(previous.start, current.end), None, seg, split=current, names=names)


def compare_periods(store: Store, project: str, current: Window, seg: Segment = ALL_TRAFFIC,
                    correction: str = "holm", alpha: float = ALPHA, min_samples: int = stats.MIN_SAMPLES,
                    names: list[str] | None = None, hists: dict[str, Hists] | None = None,
                    examples: bool = True) -> dict[str, Any]:
    """The window against the one of equal length before it (a week and the week before)."""
    previous = current.previous()
    hists = hists if hists is not None else period_hists(store, project, current, seg, names)
    rows = compare_hists(hists.get("previous", {}), hists.get("current", {}), correction, alpha, min_samples)
    if examples:
        rows = _with_examples(store, project, current, None, "", seg, rows)
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
                        lookback: timedelta = timedelta(days=14), alpha: float = ALPHA,
                        min_samples: int = stats.MIN_SAMPLES, names: list[str] | None = None,
                        examples: bool = True, cube: tuple[dict[str, Hists], dict[str, list]] | None = None
                        ) -> list[dict[str, Any]]:
    """Each prompt version (or release) seen in the window against its predecessor.

    The predecessor is the same prompt's version first scored just before it; both are scored over
    [window start − lookback, window end), so a version that replaced its predecessor before the window
    still has a baseline. Pairs without `min_samples` scores on both sides are listed but not tested.
    """
    span = Window(w.start - lookback, w.end)
    if cube is not None:  # precomputed by the caller (weekly report): fold the periods away
        hists, seen = fold(cube[0], 1), _seen_by_group(cube[1])
    else:
        seen = {}
        hists = score_hists(store, project, span, by, seg, names=names, seen=seen)
    family = (lambda g: g.rpartition(":")[0]) if by == "prompt_version" else (lambda g: "")
    by_family: dict[str, list[str]] = {}
    for g in sorted((g for g in seen if g), key=lambda g: (seen[g][0], g)):
        by_family.setdefault(family(g), []).append(g)
    out = []
    for versions in by_family.values():
        for prev, cur in zip(versions, versions[1:], strict=False):
            if seen[cur][1].replace(tzinfo=w.start.tzinfo) < w.start:
                continue  # not active in the window
            rows = compare_hists(hists.get(prev, {}), hists.get(cur, {}), "holm", alpha, min_samples)
            if examples:
                rows = _with_examples(store, project, span, by, cur, seg, rows)
            out.append({"group": cur, "previous": prev, "first_seen": seen[cur][0],
                        "tested": any(r["enough"] for r in rows), "regressed": any(r["regressed"] for r in rows),
                        "evaluators": rows, "regressions": [r for r in rows if r["regressed"]]})
    return out


def _seen_by_group(seen: dict[str, list]) -> dict[str, list]:
    out: dict[str, list] = {}
    for label, (first, last) in seen.items():
        span = out.setdefault(label.partition("\t")[2], [first, last])
        span[0], span[1] = min(span[0], first), max(span[1], last)
    return out


def score_cube(store: Store, project: str, w: Window, lookback: timedelta = timedelta(days=14),
               by: str = "prompt_version") -> tuple[dict[str, Hists], dict[str, list]]:
    """All scores of [w.start − lookback, w.end) by period and group, in one pass (weekly report)."""
    seen: dict[str, list] = {}
    hists = score_hists(store, project, Window(w.start - lookback, w.end), by, ALL_TRAFFIC, split=w, seen=seen,
                        cube=True)
    return hists, seen


def rate_from_pairs(pairs: list[dict[str, Any]], alpha: float = ALPHA) -> tuple[float | None, int]:
    """The prompt regression rate of `release_regressions` pairs, counting the quality evaluators only
    (Holm over those, as if they alone had been compared)."""
    tested = regressed = 0
    for pair in pairs:
        rows = [r for r in pair["evaluators"] if r["name"] in QUALITY and r["enough"]]
        if not rows:
            continue
        tested += 1
        adjusted = stats.holm([r["p_value"] for r in rows])
        regressed += any(p is not None and p < alpha and (r["diff"] < 0 if r["higher_is_better"] else r["diff"] > 0)
                         for r, p in zip(rows, adjusted, strict=True))
    return (regressed / tested if tested else None), tested


def prompt_regression_rate(store: Store, project: str, w: Window, min_samples: int = stats.MIN_SAMPLES,
                           alpha: float = ALPHA) -> tuple[float | None, int, list[dict[str, Any]]]:
    """The seed's "prompt regression rate": among prompt versions active in the window that could be
    tested against their predecessor (quality evaluators: groundedness, answer relevance, task completion,
    helpfulness), the share with a significant drop on any of them. Returns (rate, versions tested, detail).
    """
    pairs = release_regressions(store, project, w, "prompt_version", min_samples=min_samples, alpha=alpha,
                                names=list(QUALITY), examples=False)
    rate, tested = rate_from_pairs(pairs, alpha)
    return rate, tested, pairs
