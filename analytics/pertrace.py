"""Per-trace facts of the traces started in a window, from `trace_list`, without merging every trace.

`trace_list` holds a trace's facts in one row per insert, and nearly every trace arrives in one insert: its
one row holds the root (pick_key = 0). Only a trace with a row without its root (children sent apart from
the root, or no root at all: pick_key > 0) needs its rows merged with GROUP BY trace_id. So the traces of a
window are its root rows as they are, except those traces, which are merged: a GROUP BY of the traces
that arrived in pieces instead of all of them (sessions over 7 days at 10 M spans: 0.45 -> 0.28 s).
A root sent twice in different requests would count its trace twice here; its spans would be stored twice
as well.
"""

from __future__ import annotations

from analytics.tracepage import MERGED

# A trace's facts: the column of its single row, and the aggregate merging its rows (analytics/tracepage.py).
_STORED_AS = {"start_time": "first_start", "end_time": "last_end"}  # named apart in trace_list (migration 0050)
FACTS: dict[str, tuple[str, str]] = {name: (_STORED_AS.get(fact, fact), MERGED[fact]) for name, fact in {
    "t_start": "start_time", "t_end": "end_time", "session": "session_id", "user": "user_id",
    "service": "service_name", "env": "environment", "pname": "prompt_name", "pversion": "prompt_version",
    "models": "models", "cost": "cost_usd", "unpriced_n": "unpriced_count", "in_tok": "input_tokens",
    "out_tok": "output_tokens", "tokens": "total_tokens", "errs": "error_count", "spans": "span_count"}.items()}
FACTS["dur"] = ("dateDiff('microsecond', first_start, last_end) / 1000",
                "dateDiff('microsecond', min(first_start), max(last_end)) / 1000")

_ROWS = ("project = {project:String} AND first_start >= {start:DateTime64(6)} - INTERVAL 1 DAY "
         "AND first_start < {end:DateTime64(6)} + INTERVAL 1 DAY")  # a trace's rows lie within a day of its start
# The traces with a row without the root, by the hash of their id (migration 0064): a set of 4-byte values
# probed with a 4-byte column instead of strings, when a quarter of the traces arrive in pieces (sessions
# over 7 days 807 -> 575 ms). A single-row trace whose hash collides with one of them is merged from its one
# row, which changes nothing: each trace is in exactly one side.
_SPLIT = f"(SELECT trace_hash FROM trace_list WHERE {_ROWS} AND pick_key > 0)"


def traces_in_window(facts: list[str], where: str = "1") -> str:
    """SQL of (trace_id, t_start, *facts) for the traces started in [{start}, {end}) for which `where`
    (over the facts' names) holds. Expects params project, start, end."""
    names = list(dict.fromkeys(["t_start", *facts]))
    single = ", ".join(f"{FACTS[n][0]} AS {n}" for n in names)
    merged = ", ".join(f"{FACTS[n][1]} AS {n}" for n in names)
    return (
        f"SELECT * FROM (SELECT trace_id, {single} FROM trace_list WHERE project = {{project:String}} "
        "AND first_start >= {start:DateTime64(6)} AND first_start < {end:DateTime64(6)} AND pick_key = 0 "
        f"AND trace_hash NOT IN {_SPLIT} "
        f"UNION ALL SELECT trace_id, {merged} FROM trace_list WHERE {_ROWS} AND trace_hash IN {_SPLIT} "
        "GROUP BY trace_id HAVING t_start >= {start:DateTime64(6)} AND t_start < {end:DateTime64(6)}) "
        f"WHERE {where}"
    )
