"""Deletion (privacy requests) on a cluster: rows are counted through the Distributed tables and deleted from
the shards' `<name>_local` tables ON CLUSTER. No cluster runs here, so the statements are checked as text
and by ClickHouse's parser; the single-node path runs for real in tests/collector/test_admin_api.py."""

from __future__ import annotations

import re
from typing import Any

import pytest

from store import deletion
from store.client import Store
from store.migrate import load_migrations

CLUSTER, DB = "loupe_cluster", "loupe"
COND = "project = {p:String} AND trace_id IN {ids:Array(String)}"


class RecordingStore:
    """Answers the counts (one row each, one trace for a user) and records what would run."""

    database = DB

    def __init__(self) -> None:
        self.reads: list[str] = []
        self.commands: list[tuple[str, dict, dict | None]] = []
        self.inserts: list[str] = []

    def query_rows(self, sql: str, parameters: dict | None = None) -> list[tuple]:
        self.reads.append(sql)
        return [("t1",)] if sql.startswith("SELECT DISTINCT trace_id") else [(1,)]

    def command(self, sql: str, parameters: dict | None = None, settings: dict | None = None) -> Any:
        self.commands.append((sql, parameters or {}, settings))

    def insert(self, table: str, rows: Any, columns: Any, dedup_token: str | None = None) -> None:
        self.inserts.append(table)


def test_single_node_statement_is_unchanged() -> None:
    assert deletion.delete_statements("spans", COND) == [f"ALTER TABLE spans DELETE WHERE {COND}"]


def test_cluster_statements_target_the_shards_local_tables() -> None:
    locals_created = {m.group(1) for mig in load_migrations(30, CLUSTER, DB) for s in mig.statements
                      if (m := re.match(r"CREATE TABLE IF NOT EXISTS (\w+_local) ON CLUSTER", s))}
    for table in deletion._TRACE_TABLES:
        assert f"{table}_local" in locals_created  # every trace table is sharded: its data lives in _local
        assert deletion.delete_statements(table, COND, CLUSTER, DB) == [
            f"ALTER TABLE {table}_local ON CLUSTER `{CLUSTER}` DELETE WHERE {COND}"]


def test_cluster_statements_parse(store: Store) -> None:
    for table in deletion._TRACE_TABLES:
        for statement in deletion.delete_statements(table, COND, CLUSTER, DB):
            store.query_rows("SELECT formatQuery({q:String})", {"q": statement})  # ClickHouse's parser accepts it


@pytest.mark.parametrize("cluster", [None, CLUSTER])
def test_delete_user_counts_through_distributed_and_mutates_locals(cluster: str | None) -> None:
    store = RecordingStore()
    removed = deletion.delete_user(store, "proj", "user-42", "admin", cluster=cluster)  # type: ignore[arg-type]
    assert removed["traces_deleted"] == 1 and removed["feedback"] == 1
    assert all(removed[t] == 1 for t in deletion._TRACE_TABLES)
    # Counts read the canonical (on a cluster: Distributed) tables, never a _local one.
    assert store.reads and not any("_local" in sql or "ON CLUSTER" in sql for sql in store.reads)
    targets = [re.match(r"ALTER TABLE (\w+)", sql).group(1) for sql, _, _ in store.commands]
    suffix = "_local" if cluster else ""
    assert targets == [t + suffix for t in deletion._TRACE_TABLES] + [f"scores{suffix}"]
    for sql, params, settings in store.commands:
        assert (f"ON CLUSTER `{CLUSTER}` DELETE WHERE" in sql) == bool(cluster), sql
        assert params["p"] == "proj" and settings == {"mutations_sync": 2}
    assert "user_feedback" in store.commands[-1][0] and store.commands[-1][1]["u"] == "user-42"
    assert store.inserts == ["audit_log"]
