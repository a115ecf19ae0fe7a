"""Writes to `scores`. Re-writing the same key replaces the row (ReplacingMergeTree on updated_at).

Each score is stamped with its trace's start and facts (store/migrations/0051) when the trace's root has
arrived; a score written earlier (feedback racing its trace) keeps the epoch and is joined at read time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from store.client import Store
from store.rows import SCORE_COLUMNS, ScoreRow, score_tuple

# A trace's facts as the trace list merges them; the bloom index on trace_id finds the rows.
_FACTS = (
    "SELECT trace_id, min(first_start), argMin(service_name, pick_key), max(environment), max(user_id), "
    "max(prompt_name), max(prompt_version), max(release), arraySort(groupUniqArrayArray(models)) "
    "FROM trace_list WHERE project = {p:String} AND trace_id IN {ids:Array(String)} "
    "GROUP BY trace_id HAVING min(pick_key) = 0"
)


def stamp_traces(store: Store, rows: list[ScoreRow]) -> None:
    """Fill trace_start and the t_* facts of rows whose trace's root is stored."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r.trace_id and r.trace_start.timestamp() == 0:
            wanted[r.project].add(r.trace_id)
    for project, ids in wanted.items():
        facts = {f[0]: f[1:] for f in store.query_rows(_FACTS, {"p": project, "ids": sorted(ids)})}
        for r in rows:
            found = facts.get(r.trace_id) if r.project == project else None
            if found:
                (r.trace_start, r.t_service, r.t_environment, r.t_user, r.t_prompt_name, r.t_prompt_version,
                 r.t_release, r.t_models) = found


def insert_scores(store: Store, rows: Iterable[ScoreRow]) -> int:
    rows = list(rows)
    stamp_traces(store, rows)
    batch = [score_tuple(r) for r in rows]
    store.insert("scores", batch, SCORE_COLUMNS)
    return len(batch)
