"""Per-trace facts from `trace_list` for grouping scores (the newest score per key: analytics/scoresql.py).

Scores are timed and grouped by the trace they judge (analytics/window.py). A trace that used several
models groups under their names joined with '+', in order.

Shaped for big windows (a week of 10M spans, millions of scores): `trace_list` is read only for scored
traces, matched by a hash of the trace id (a UInt64 set, not a String one).
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
