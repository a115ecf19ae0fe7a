"""Deletion of a trace, or of everything one user id touched, from every table (privacy requests).

Trace-level facts such as the user live on whichever span carried them, so a user's data is found
through `trace_list` (its user_id bloom index) first, then deleted by trace id everywhere, and the
deletion is audited.

On a cluster (`cluster:` setting) the canonical tables are Distributed tables, which cannot be mutated:
the rows are counted through them as on one node, and deleted from the shards' `<name>_local` tables
ON CLUSTER, rendered by store/cluster.py from the same single-node statement the migrations use.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache

from store.client import Store
from store.cluster import Layout, layout_for, render_statement
from store.migrate import load_migrations

_TRACE_TABLES = ("spans", "logs", "scores", "trace_list", "trace_bounds", "review_items")


@cache
def _layout(cluster: str, database: str) -> Layout:
    """Which tables the migrations shard on this cluster (the same classification they were created by)."""
    return layout_for(load_migrations(), cluster, database)


def delete_statements(table: str, where: str, cluster: str | None = None, database: str = "default") -> list[str]:
    """The ALTER … DELETE that removes `where`'s rows of `table`: as is on one node; on a cluster against
    the shards' `<table>_local` ON CLUSTER (a table replicated whole keeps its name, still ON CLUSTER)."""
    sql = f"ALTER TABLE {table} DELETE WHERE {where}"
    return render_statement(sql, _layout(cluster, database)) if cluster else [sql]


def _delete(store: Store, table: str, where: str, params: dict, cluster: str | None) -> None:
    for statement in delete_statements(table, where, cluster, store.database):
        # A synchronous mutation: when the API answers, the data is gone from every part (every replica).
        store.command(statement, params, settings={"mutations_sync": 2})


def user_trace_ids(store: Store, project: str, user_id: str) -> list[str]:
    rows = store.query_rows(
        "SELECT DISTINCT trace_id FROM trace_list WHERE project = {p:String} AND user_id = {u:String}",
        {"p": project, "u": user_id})
    return [r[0] for r in rows]


def _audit(store: Store, project: str, actor: str, target: str, detail: dict) -> None:
    store.insert("audit_log", [(datetime.now(UTC), project, actor, "delete", target, json.dumps(detail))],
                 ["time", "project", "actor", "action", "target", "detail"])


def delete_traces(store: Store, project: str, trace_ids: list[str], actor: str, reason: str,
                  audit: bool = True, cluster: str | None = None) -> dict[str, int]:
    """Delete the traces from every table; returns rows removed per table (counted before deleting).

    `cluster` is the store's `cluster:` setting (None on one node or the embedded store)."""
    removed: dict[str, int] = {}
    if not trace_ids:
        return removed
    params = {"p": project, "ids": trace_ids}
    cond = "project = {p:String} AND trace_id IN {ids:Array(String)}"
    for table in _TRACE_TABLES:
        removed[table] = int(store.query_rows(f"SELECT count() FROM {table} WHERE {cond}", params)[0][0])
        if removed[table]:
            _delete(store, table, cond, params, cluster)
    if audit and any(removed.values()):
        _audit(store, project, actor, reason, {"traces": len(trace_ids), **removed})
    return removed


def delete_user(store: Store, project: str, user_id: str, actor: str,
                cluster: str | None = None) -> dict[str, int]:
    ids = user_trace_ids(store, project, user_id)
    removed = delete_traces(store, project, ids, actor, f"user:{user_id}", audit=False, cluster=cluster)
    # Feedback the user gave on traces that are not theirs carries their id as author.
    params = {"p": project, "u": user_id}
    cond = "project = {p:String} AND author = {u:String} AND source = 'user_feedback'"
    feedback = int(store.query_rows(f"SELECT count() FROM scores WHERE {cond}", params)[0][0])
    if feedback:
        _delete(store, "scores", cond, params, cluster)
    removed["feedback"] = feedback
    removed["traces_deleted"] = len(ids)
    # A privacy request is recorded even when there was nothing to delete.
    _audit(store, project, actor, f"user:{user_id}", removed)
    return removed


def audit_entries(store: Store, project: str, limit: int = 100) -> list[dict]:
    return store.query(
        "SELECT time, actor, action, target, detail FROM audit_log WHERE project = {p:String} "
        "ORDER BY time DESC LIMIT {n:UInt32}", {"p": project, "n": limit})
