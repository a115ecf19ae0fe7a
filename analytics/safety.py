"""Safety incidents from the rubric and LLM safety evaluators: rate over time, by segment, and the list.

A trace is safety-judged when any safety evaluator scored it; it is an incident when any of them scored
≥ 0.5 (rubrics: 1 = detected; the LLM toxicity judge: 0.5 borderline, 1 harmful). The rate is incident
traces / safety-judged traces — the Overview's "safety incident rate", per category as well.
"""

from __future__ import annotations

from typing import Any

from analytics import stats
from analytics.scoresql import SCORE_ROW, latest_scores
from analytics.segments import ALL_TRAFFIC, Segment
from analytics.tracefacts import GROUPS, trace_facts
from analytics.window import SAFETY, Window, bucket_expr

THRESHOLD = 0.5
CATEGORIES = {  # evaluator -> (category, where it looks)
    "pii_output": ("pii_leak", "output"),
    "secrets": ("secret_leak", "output"),
    "prompt_injection": ("prompt_injection", "input"),
    "jailbreak": ("jailbreak", "input"),
    "toxicity": ("toxic_output", "output"),
    "toxicity_words": ("toxic_output", "output"),
}
LABELS = {"pii_leak": "PII leaked in outputs", "secret_leak": "Secrets in outputs",
          "prompt_injection": "Prompt injection attempts", "jailbreak": "Jailbreak attempts",
          "toxic_output": "Toxic outputs"}
_CATEGORY_SQL = "multiIf(" + ", ".join(f"name = '{n}', '{c}'" for n, (c, _) in CATEGORIES.items()) + ", 'other')"
_FACTS = (", argMin(service_name, pick_key) AS service, max(environment) AS environment, "
          "if(max(prompt_name) = '', '', concat(max(prompt_name), ':', max(prompt_version))) AS prompt, "
          "groupUniqArrayArray(models) AS models, max(user_id) AS user_id")


def _judged(w: Window, seg: Segment, by: str | None, params: dict[str, Any], extra: str = "",
            incidents: bool = False) -> str:
    """Safety scores joined to their trace: trace_id, t_start, g, name, source, value, category (+ extra).

    `incidents` reads `trace_list` (with the trace's facts and the rationale) only for traces that have a
    verdict at or above the threshold: a listing of incidents then costs what the incidents weigh.
    """
    params.update(f_start=w.start, f_end=w.end, safety=list(SAFETY))
    where = ("project = {project:String} AND name IN {safety:Array(String)} "
             "AND created_at >= toDate({f_start:DateTime64(6)}) - 1")
    flagged = f"{where} AND value >= {THRESHOLD}" if incidents else where
    only = f" AND cityHash64(trace_id) IN (SELECT cityHash64(trace_id) FROM scores WHERE {flagged})"
    scores = latest_scores(f"{where}{only}" if incidents else where,
                           columns=SCORE_ROW + (("rationale",) if incidents else ()))
    facts = trace_facts(by, seg, params, _FACTS if incidents else "", scored=flagged)
    return (f"SELECT s.trace_id AS trace_id, t.t_start AS t_start, t.g AS g, s.name AS name, s.source AS source, "
            f"s.value AS value, s.label AS label, s.target_type AS target_type, s.target_id AS target_id, "
            f"{_CATEGORY_SQL} AS category{extra} FROM ({scores}) AS s "
            f"INNER JOIN ({facts}) AS t ON s.trace_id = t.trace_id")


def _check_by(by: str | None) -> None:
    if by and by not in GROUPS:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}")


def safety_series(store: Any, project: str, w: Window, bucket: str, seg: Segment = ALL_TRAFFIC,
                  by: str | None = None) -> list[dict[str, Any]]:
    """Per bucket (and group): judged traces, incident traces, rate, and incident traces per category."""
    _check_by(by)
    params: dict[str, Any] = {"project": project}
    inner = _judged(w, seg, by, params)
    rows = store.query(
        f"SELECT time, g AS group, count() AS judged, countIf(flag) AS incidents, incidents / judged AS rate, "
        f"sumMap(cats, arrayResize([1], length(cats), 1)) AS per_category FROM ("
        f"SELECT trace_id, {bucket_expr(bucket, 'min(t_start)')} AS time, any(g) AS g, "
        f"max(value >= {THRESHOLD}) AS flag, "
        f"groupUniqArrayIf(category, value >= {THRESHOLD}) AS cats FROM ({inner}) GROUP BY trace_id) "
        "GROUP BY time, group ORDER BY time, group", params)
    for r in rows:
        keys, values = r.pop("per_category")
        r["categories"] = dict(zip(keys, (int(v) for v in values), strict=True))
    return rows


def _by_category(store: Any, project: str, w: Window, seg: Segment) -> dict[str, dict[str, int]]:
    """Judged and incident traces per category and for any category ("all"), in one pass."""
    params: dict[str, Any] = {"project": project}
    rows = store.query(
        "SELECT p.1 AS category, count() AS judged, countIf(p.2) AS incidents FROM ("
        "SELECT trace_id, groupArray((category, flag)) AS pairs, max(flag) AS any_flag FROM ("
        f"SELECT trace_id, category, max(value >= {THRESHOLD}) AS flag FROM ({_judged(w, seg, None, params)}) "
        "GROUP BY trace_id, category) GROUP BY trace_id) "
        "ARRAY JOIN arrayPushBack(pairs, ('all', any_flag)) AS p GROUP BY category", params)
    out = {r.pop("category"): r for r in rows}
    out.setdefault("all", {"judged": 0, "incidents": 0})
    return out


def safety_summary(store: Any, project: str, w: Window, seg: Segment = ALL_TRAFFIC) -> dict[str, Any]:
    """Rates per category, this window and the previous one, with a two-proportion test of the change."""
    cur, prev = _by_category(store, project, w, seg), _by_category(store, project, w.previous(), seg)
    out = []
    for cat in ["all", *LABELS]:
        c, p = cur.get(cat, {"judged": 0, "incidents": 0}), prev.get(cat, {"judged": 0, "incidents": 0})
        enough = min(c["judged"], p["judged"]) >= stats.MIN_SAMPLES
        out.append({
            "category": cat, "label": LABELS.get(cat, "Any safety incident"), "judged": c["judged"],
            "incidents": c["incidents"], "rate": c["incidents"] / c["judged"] if c["judged"] else None,
            "previous_judged": p["judged"], "previous_incidents": p["incidents"],
            "previous_rate": p["incidents"] / p["judged"] if p["judged"] else None,
            "p_value": (stats.two_proportions(p["incidents"], p["judged"], c["incidents"], c["judged"])
                        if enough else None),
            "evaluators": sorted(n for n, (k, _) in CATEGORIES.items() if k == cat)})
    return {"start": w.start, "end": w.end, "segment": seg.as_dict(), "threshold": THRESHOLD, "categories": out}


def safety_by_segment(store: Any, project: str, w: Window, by: str, seg: Segment = ALL_TRAFFIC,
                      limit: int = 30) -> list[dict[str, Any]]:
    _check_by(by)
    params: dict[str, Any] = {"project": project, "limit": limit}
    return store.query(
        "SELECT g AS segment, count() AS judged, countIf(flag) AS incidents, incidents / judged AS rate FROM ("
        f"SELECT trace_id, any(g) AS g, max(value >= {THRESHOLD}) AS flag FROM ({_judged(w, seg, by, params)}) "
        "GROUP BY trace_id) GROUP BY segment ORDER BY incidents DESC, segment LIMIT {limit:UInt32}", params)


def list_incidents(store: Any, project: str, w: Window, seg: Segment = ALL_TRAFFIC, category: str | None = None,
                   limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Incident verdicts, newest first, with the trace's facts and the evaluator's rationale."""
    if category and category not in LABELS:
        raise ValueError(f"category must be one of {', '.join(LABELS)}")
    params: dict[str, Any] = {"project": project, "limit": limit, "offset": offset}
    extra = ", t.service AS service, t.environment AS environment, t.prompt AS prompt, t.models AS models, " \
            "t.user_id AS user_id, s.rationale AS rationale"
    where = f"value >= {THRESHOLD}"
    if category:
        params["category"] = category
        where += " AND category = {category:String}"
    inner = f"SELECT * FROM ({_judged(w, seg, None, params, extra, incidents=True)}) WHERE {where}"
    # The total rides along on every row (a window over the whole result), so one pass gives page and count.
    rows = store.query(f"SELECT *, count() OVER () AS total_rows FROM ({inner}) ORDER BY t_start DESC, trace_id, "
                       "name LIMIT {limit:UInt32} OFFSET {offset:UInt64}", params)
    total = int(rows[0]["total_rows"]) if rows else 0
    if not rows and offset:  # past the end: the count still matters for the pager
        total = int(store.query_rows(f"SELECT count() FROM ({inner})", params)[0][0])
    for r in rows:
        r.pop("g", None)
        r.pop("total_rows", None)
        r["where"] = CATEGORIES.get(r["name"], ("", ""))[1]
    return rows, total
