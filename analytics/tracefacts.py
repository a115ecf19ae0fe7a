"""Per-trace facts from `trace_list` for grouping scores, and the newest score per key.

Scores are timed and grouped by the trace they judge (analytics/window.py). A trace that used several
models groups under their names joined with '+', in order.

Both reads are shaped for big windows (a week of 10M spans, millions of scores): the score key is
grouped by `score_key`, the stored 64-bit hash of its seven columns (migration 0053), and the rollup
is read only for scored traces, matched by a hash of the trace id (a UInt64 set, not a String one).
"""

from __future__ import annotations

from typing import Any

from analytics.segments import Segment

GROUPS = {
    "prompt_version": "if(max(prompt_name) = '', '', concat(max(prompt_name), ':', max(prompt_version)))",
    "model": "arrayStringConcat(arraySort(groupUniqArrayArray(models)), '+')",
    "release": "max(release)",
    "service": "argMin(service_name, pick_key)",
    "environment": "max(environment)",
}


def trace_facts(by: str | None, seg: Segment, params: dict[str, Any], extra: str = "",
                scored: str | None = None) -> str:
    """One row per trace started in [f_start, f_end) (params), in the segment: trace_id, t_start, g (its group).

    `scored` (a WHERE on `scores`) keeps only the traces with such scores: judges sample a fraction of the
    traffic, so merging `trace_list` for those traces alone is what keeps score queries fast on big windows.
    """
    group = GROUPS[by] if by else "''"
    having = ["t_start >= {f_start:DateTime64(6)}", "t_start < {f_end:DateTime64(6)}"]
    if seg.service:
        params["s_service"] = seg.service
        having.append("argMin(service_name, pick_key) = {s_service:String}")
    if seg.environment:
        params["s_env"] = seg.environment
        having.append("max(environment) = {s_env:String}")
    if seg.model:
        params["s_model"] = seg.model
        having.append("has(groupUniqArrayArray(models), {s_model:String})")
    if seg.prompt:
        name, _, version = seg.prompt.partition(":")
        params["s_pname"] = name
        having.append("max(prompt_name) = {s_pname:String}")
        if version:
            params["s_pversion"] = version
            having.append("max(prompt_version) = {s_pversion:String}")
    only = f" AND cityHash64(trace_id) IN (SELECT cityHash64(trace_id) FROM scores WHERE {scored})" if scored else ""
    return (f"SELECT trace_id, min(first_start) AS t_start, {group} AS g{extra} FROM trace_list "
            "WHERE project = {project:String} AND first_start >= {f_start:DateTime64(6)} - INTERVAL 1 DAY "
            f"AND first_start < {{f_end:DateTime64(6)}} + INTERVAL 1 DAY{only} GROUP BY trace_id "
            f"HAVING {' AND '.join(having)}")


def latest(where: str, extra: str = "") -> str:
    """The newest value per score key among rows matching `where` (which filters on the project first).

    Columns: trace_id, target_type, target_id, name, source, author, value, label (+ `extra`, written
    over the renamed columns, e.g. ", argMax(s_rationale, s_updated) AS rationale").
    """
    rationale = ", rationale AS s_rationale" if "s_rationale" in extra else ""  # a wide column: only when asked
    return (
        "SELECT any(s_trace) AS trace_id, any(s_type) AS target_type, any(s_target) AS target_id, "
        "any(s_name) AS name, any(s_source) AS source, any(s_author) AS author, "
        f"argMax(s_value, s_updated) AS value, argMax(s_label, s_updated) AS label{extra} FROM ("
        "SELECT trace_id AS s_trace, target_type AS s_type, target_id AS s_target, name AS s_name, "
        "source AS s_source, author AS s_author, score_key AS s_key, "
        f"value AS s_value, label AS s_label{rationale}, updated_at AS s_updated "
        f"FROM scores WHERE {where} AND value IS NOT NULL) GROUP BY s_key"
    )
