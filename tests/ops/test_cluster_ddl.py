"""The cluster DDL, rendered from the plain migrations and checked statement by statement (no cluster
can run here), and the plain DDL run for real on chDB."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from store.client import Store
from store.cluster import ClusterRenderError, Layout, render_statement
from store.leases import LEASES_TABLE
from store.migrate import SCHEMA_MIGRATIONS, load_migrations, migrate

pytestmark = pytest.mark.timeout(120)
CLUSTER, DB = "loupe_cluster", "loupe"
TRACE_TABLES = {"spans", "traces", "trace_list", "logs", "scores"}


@pytest.fixture(scope="module")
def rendered() -> list[str]:
    return [s for m in load_migrations(30, CLUSTER, DB) for s in m.statements]


def _creates(statements: list[str]) -> dict[str, str]:
    out = {}
    for s in statements:
        if m := re.match(r"CREATE TABLE IF NOT EXISTS (\w+) ON CLUSTER", s):
            out[m.group(1)] = s
    return out


def test_every_statement_parses_and_every_ddl_runs_on_cluster(rendered: list[str], store: Store) -> None:
    for statement in rendered:
        # ClickHouse's own parser (chDB 26.x) accepts it: formatQuery parses without executing.
        store.query_rows("SELECT formatQuery({q:String})", {"q": statement})
        if statement.startswith("INSERT"):
            assert "ON CLUSTER" not in statement  # data runs once, through the Distributed tables
        else:
            assert f"ON CLUSTER `{CLUSTER}`" in statement, statement[:100]


def test_trace_tables_are_replicated_locals_behind_distributed_tables(rendered: list[str]) -> None:
    creates = _creates(rendered)
    for table in TRACE_TABLES | {"spans_hourly"}:
        local = creates[f"{table}_local"]
        assert re.search(r"ENGINE = Replicated\w*MergeTree\('/clickhouse/tables/\{shard\}/" + DB + "/"
                         + table + r"_local', '\{replica\}'", local), local[-400:]
        key = "cityHash64(trace_id)" if table in TRACE_TABLES else "rand()"
        assert creates[table] == (f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER `{CLUSTER}` AS {table}_local\n"
                                  f"ENGINE = Distributed('{CLUSTER}', '{DB}', '{table}_local', {key})")
    # Engine arguments survive behind the replication path (the version column of a Replacing table).
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/loupe/scores_local', '{replica}', " \
           "updated_at)" in creates["scores_local"]
    assert "ReplicatedAggregatingMergeTree(" in creates["traces_local"]
    # Deduplication of replayed WAL batches: the replicated window replaces the non-replicated one.
    assert "replicated_deduplication_window = 10000" in creates["spans_local"]
    assert "non_replicated_deduplication_window" not in creates["spans_local"]


def test_small_tables_are_replicated_to_every_node_without_distributed(rendered: list[str]) -> None:
    creates = _creates(rendered)
    for table in ("projects", "api_keys", "audit_log", "judge_watermarks", "retention_policy"):
        assert f"{table}_local" not in creates
        assert re.search(r"ENGINE = Replicated\w*MergeTree\('/clickhouse/tables/all/" + DB + "/" + table
                         + r"', '\{shard\}-\{replica\}'", creates[table]), creates[table][-300:]
        assert "Distributed" not in creates[table]
    for bootstrap in (SCHEMA_MIGRATIONS, LEASES_TABLE):
        (statement,) = render_statement(bootstrap, Layout(CLUSTER, DB))
        assert "ON CLUSTER" in statement and "'/clickhouse/tables/all/" in statement


def test_views_read_and_write_local_tables(rendered: list[str]) -> None:
    views = [s for s in rendered if s.startswith("CREATE MATERIALIZED VIEW")]
    assert {re.search(r"VIEW IF NOT EXISTS (\w+)", v).group(1) for v in views} >= {
        "trace_list_mv", "spans_hourly_mv", "spans_hourly_total_mv"}
    for view in views:
        assert re.search(r" TO \w+_local AS ", view), view[:120]
        sources = re.findall(r"\bFROM\s+([A-Za-z_]\w*)", view)
        assert sources and all(s.endswith("_local") for s in sources), sources


def test_alters_target_the_right_tables(rendered: list[str]) -> None:
    alters = [s for s in rendered if s.startswith("ALTER")]
    assert any(s.startswith(f"ALTER TABLE spans_local ON CLUSTER `{CLUSTER}` ADD INDEX") for s in alters)
    layout = Layout(CLUSTER, DB, frozenset({"spans"}), frozenset({"spans"}))
    # A new column must reach both the shards and the Distributed table in front of them.
    assert render_statement("ALTER TABLE spans ADD COLUMN IF NOT EXISTS x String", layout) == [
        f"ALTER TABLE spans_local ON CLUSTER `{CLUSTER}` ADD COLUMN IF NOT EXISTS x String",
        f"ALTER TABLE spans ON CLUSTER `{CLUSTER}` ADD COLUMN IF NOT EXISTS x String"]
    with pytest.raises(ClusterRenderError, match="split"):
        render_statement("ALTER TABLE spans ADD COLUMN y String, ADD INDEX i y TYPE minmax GRANULARITY 1", layout)
    # A codec is how the shards store a column: the Distributed table is left alone.
    assert render_statement("ALTER TABLE spans MODIFY COLUMN x CODEC(LZ4HC(4)), MODIFY COLUMN y CODEC(LZ4)",
                            layout) == [f"ALTER TABLE spans_local ON CLUSTER `{CLUSTER}` MODIFY COLUMN x "
                                        "CODEC(LZ4HC(4)), MODIFY COLUMN y CODEC(LZ4)"]
    assert any(s.startswith(f"ALTER TABLE trace_list_local ON CLUSTER `{CLUSTER}` MODIFY COLUMN input_preview CODEC")
               for s in alters)
    assert not any(s.startswith("ALTER TABLE trace_list ") and "MODIFY COLUMN input_preview" in s for s in alters)
    # A rollup rebuild empties the shards' tables (a Distributed table holds no rows of its own).
    assert render_statement("TRUNCATE TABLE spans", layout) == [f"TRUNCATE TABLE spans_local ON CLUSTER `{CLUSTER}`"]
    with pytest.raises(ClusterRenderError, match="no cluster rendering"):
        render_statement("RENAME TABLE spans TO spans_old", layout)
    with pytest.raises(ClusterRenderError, match="MergeTree"):
        render_statement("CREATE TABLE t (a String) ENGINE = Memory", layout)


def test_plain_ddl_is_untouched_and_runs_on_chdb(store: Store) -> None:
    plain = [s for m in load_migrations(30) for s in m.statements]
    assert not any("ON CLUSTER" in s or "Replicated" in s or "Distributed" in s for s in plain)
    # The `store` fixture already migrated this database; a second run is a no-op (idempotent).
    assert migrate(store) == []
    tables = {r[0] for r in store.query_rows("SELECT name FROM system.tables WHERE database = currentDatabase()")}
    assert {"spans", "trace_list", "trace_list_mv", "logs", "scores", "projects", "retention_policy"} <= tables
    assert not {"traces", "traces_mv"} & tables  # retired by 0056
    engine = store.query_rows("SELECT engine FROM system.tables WHERE database = currentDatabase() "
                              "AND name = 'spans'")[0][0]
    assert engine == "MergeTree"


def test_migrate_print_renders_for_a_cluster_without_a_store() -> None:
    def run(*args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "collector.cli", "migrate", *args, "--dsn",
                              "http://nobody:secret@127.0.0.1:9/loupe"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    clustered = run("--print", "--cluster", "prod")
    assert "CREATE TABLE IF NOT EXISTS spans_local ON CLUSTER `prod`" in clustered
    assert "ENGINE = Distributed('prod', 'loupe', 'spans_local', cityHash64(trace_id))" in clustered
    plain = run("print")
    assert "ON CLUSTER" not in plain and "CREATE TABLE IF NOT EXISTS spans\n" in plain


def test_every_retained_table_is_sharded(rendered: list[str]) -> None:
    """store/retention.py puts cluster TTLs on `<table>_local`: every retained table must have one."""
    from store.retention import RETAINED

    creates = _creates(rendered)
    assert all(f"{table}_local" in creates for table in RETAINED)
