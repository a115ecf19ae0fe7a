"""Writes to `scores`. Re-writing the same key replaces the row (ReplacingMergeTree on updated_at).

Each score is stamped with its trace's start and facts (store/migrations/0051) when the trace's root has
arrived; a score written earlier (feedback racing its trace) keeps the epoch and is joined at read time.
Each is also marked `repeated` when its key already has a row, or comes twice in the batch (0054): reads
dedupe only those keys. Writes in this process take a lock between the look-up and the insert, so two
writers of one key cannot both miss each other; across processes such a race counts a score twice until
the table's merge keeps one row.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

from store.client import Store
from store.rows import SCORE_COLUMNS, ScoreRow, score_tuple

# A trace's facts as the trace list merges them; the bloom index on trace_id finds the rows.
_FACTS = (
    "SELECT trace_id, min(first_start), argMin(service_name, pick_key), max(environment), max(user_id), "
    "max(prompt_name), max(prompt_version), max(release), arraySort(groupUniqArrayArray(models)) "
    "FROM trace_list WHERE project = {p:String} AND trace_id IN {ids:Array(String)} "
    "GROUP BY trace_id HAVING min(pick_key) = 0"
)
# Keys already stored among the batch's targets: the table's primary key starts with these columns.
_STORED_KEYS = (
    "SELECT DISTINCT target_type, target_id, name, source, evaluator, evaluator_version, author FROM scores "
    "WHERE project = {p:String} AND target_type IN {types:Array(String)} AND target_id IN {ids:Array(String)}"
)
_WRITE = threading.Lock()

InsertFn = Callable[[str, list[tuple], tuple[str, ...]], object]


def _key(r: ScoreRow) -> tuple[str, ...]:
    return r.target_type, r.target_id, r.name, r.source, r.evaluator, r.evaluator_version, r.author


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


def mark_repeats(store: Store, rows: list[ScoreRow]) -> None:
    """Set `repeated` on rows whose key is already stored or comes more than once in `rows`."""
    in_batch = Counter((r.project, _key(r)) for r in rows)
    by_project: dict[str, list[ScoreRow]] = defaultdict(list)
    for r in rows:
        by_project[r.project].append(r)
    for project, mine in by_project.items():
        params = {"p": project, "types": sorted({r.target_type for r in mine}),
                  "ids": sorted({r.target_id for r in mine})}
        stored = {tuple(k) for k in store.query_rows(_STORED_KEYS, params)}
        for r in mine:
            r.repeated = int(_key(r) in stored or in_batch[(project, _key(r))] > 1)


def insert_scores(store: Store, rows: Iterable[ScoreRow], insert: InsertFn | None = None) -> int:
    """Stamp, mark and insert `rows`; `insert` (table, rows, columns) replaces store.insert (the ingest
    writer passes its own, which retries and accounts)."""
    rows = list(rows)
    if not rows:
        return 0
    with _WRITE:
        stamp_traces(store, rows)
        mark_repeats(store, rows)
        batch = [score_tuple(r) for r in rows]
        (insert or store.insert)("scores", batch, SCORE_COLUMNS)
    return len(batch)
