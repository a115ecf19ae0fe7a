"""Render the plain migrations for a ClickHouse cluster (`cluster:` setting).

The SQL files are written once, for one node (and run as they are on chDB and a single server); this
module rewrites each statement for a cluster, so the two can never drift apart:

- a table that holds trace data (it has a `trace_id` column, or a materialized view over such a table
  fills it) becomes `<name>_local`, a Replicated* table on every shard, plus a Distributed table under
  the canonical name, sharded by `cityHash64(trace_id)` so a trace's spans, logs, scores and rollup
  rows live on one shard (aggregate-only targets without `trace_id` shard by `rand()`);
- every other table (keys, projects, judge state, schema_migrations, leases) is small and read with
  FINAL, so it is replicated whole to every node under its canonical name, no Distributed table;
- materialized views read and write the local tables, so each shard rolls up its own inserts;
- every DDL statement runs `ON CLUSTER`; data statements (INSERT … SELECT backfills) run once, through
  the Distributed tables, and are recorded once in the replicated `schema_migrations`.

A statement form this module does not know is an error, so a new kind of migration gets a deliberate
cluster rendering instead of a silently wrong one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from store.migrate import Migration

LOCAL_SUFFIX = "_local"
SHARDING_KEY = "cityHash64(trace_id)"

_CREATE_TABLE = re.compile(r"^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?([\w.]+)\s*\(", re.I)
_CREATE_MV = re.compile(
    r"^CREATE\s+MATERIALIZED\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?([\w.]+)\s+TO\s+([\w.]+)\s+AS\s+(.*)$", re.I | re.S)
_CREATE_OTHER = re.compile(r"^CREATE\s+(VIEW|DICTIONARY)\s+(IF\s+NOT\s+EXISTS\s+)?([\w.]+)(.*)$", re.I | re.S)
_ALTER = re.compile(r"^ALTER\s+TABLE\s+([\w.]+)\s+(.*)$", re.I | re.S)
_DROP = re.compile(r"^DROP\s+(TABLE|VIEW|DICTIONARY)\s+(IF\s+EXISTS\s+)?([\w.]+)\s*$", re.I)
_OPTIMIZE = re.compile(r"^OPTIMIZE\s+TABLE\s+([\w.]+)(.*)$", re.I | re.S)
_TRUNCATE = re.compile(r"^TRUNCATE\s+TABLE\s+(IF\s+EXISTS\s+)?([\w.]+)\s*$", re.I)
_ENGINE = re.compile(r"ENGINE\s*=\s*(\w+)", re.I)
_TRACE_COLUMN = re.compile(r"^\s*trace_id\s", re.M)
_SOURCES = re.compile(r"\b(FROM|JOIN)\s+([A-Za-z_]\w*)\b", re.I)
_COLUMN_COMMAND = re.compile(r"^(ADD|DROP|MODIFY|RENAME|COMMENT|CLEAR)\s+COLUMN\b", re.I)
# A column's codec is how the shards store it: nothing the Distributed table in front of them holds.
_CODEC_ONLY = re.compile(r"^MODIFY\s+COLUMN\s+(IF\s+EXISTS\s+)?[\w`]+\s+CODEC\(", re.I)


class ClusterRenderError(ValueError):
    """A statement has no known cluster form."""


@dataclass(frozen=True)
class Layout:
    """Which tables are sharded (local + Distributed) and which of those carry a trace id."""

    cluster: str
    database: str
    sharded: frozenset[str] = frozenset()
    traced: frozenset[str] = frozenset()

    @property
    def on_cluster(self) -> str:
        return f"ON CLUSTER `{self.cluster}`"

    def local(self, table: str) -> str:
        return table + LOCAL_SUFFIX if table in self.sharded else table


def _matching_paren(sql: str, start: int) -> int:
    depth, quote = 0, ""
    for i in range(start, len(sql)):
        ch = sql[i]
        if quote:
            if ch == quote and sql[i - 1] != "\\":
                quote = ""
        elif ch in "'`\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ClusterRenderError(f"unbalanced parentheses in: {sql[:80]}")


def _split_top_level(text: str) -> list[str]:
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'`\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def classify(statements: Iterable[str]) -> tuple[set[str], set[str]]:
    """(sharded tables, tables with a trace_id column) over all migrations, in order."""
    traced, views = set(), []
    for sql in statements:
        if m := _CREATE_TABLE.match(sql):
            columns = sql[m.end() - 1:_matching_paren(sql, m.end() - 1) + 1]
            if _TRACE_COLUMN.search(columns):
                traced.add(m.group(2))
        elif m := _CREATE_MV.match(sql):
            views.append((m.group(3), {s for _, s in _SOURCES.findall(m.group(4))}))
    sharded = set(traced)
    changed = True
    while changed:  # a view over a sharded table makes its target sharded, transitively
        changed = False
        for target, sources in views:
            if target not in sharded and sources & sharded:
                sharded.add(target)
                changed = True
    return sharded, traced


def _replicated_engine(rest: str, table: str, layout: Layout, sharded: bool) -> str:
    m = _ENGINE.search(rest)
    if not m or not m.group(1).endswith("MergeTree") or m.group(1).startswith("Replicated"):
        raise ClusterRenderError(f"table {table}: only plain *MergeTree engines can be rendered for a cluster")
    engine, after = m.group(1), m.end()
    args = ""
    if after < len(rest) and rest[after] == "(":
        close = _matching_paren(rest, after)
        args, after = rest[after + 1:close].strip(), close + 1
    if sharded:  # one replica set per shard
        path, replica = f"/clickhouse/tables/{{shard}}/{layout.database}/{table}", "{replica}"
    else:  # one replica set spanning every node of the cluster
        path, replica = f"/clickhouse/tables/all/{layout.database}/{table}", "{shard}-{replica}"
    new_args = ", ".join([f"'{path}'", f"'{replica}'"] + ([args] if args else []))
    tail = rest[after:].replace("non_replicated_deduplication_window", "replicated_deduplication_window")
    return f"{rest[:m.start()]}ENGINE = Replicated{engine}({new_args}){tail}"


def _render_create_table(sql: str, m: re.Match, layout: Layout) -> list[str]:
    name = m.group(2)
    close = _matching_paren(sql, m.end() - 1)
    columns, rest = sql[m.end() - 1:close + 1], sql[close + 1:]
    sharded = name in layout.sharded
    local = layout.local(name)
    engine_rest = _replicated_engine(rest, local, layout, sharded)
    out = [f"CREATE TABLE IF NOT EXISTS {local} {layout.on_cluster}\n{columns}{engine_rest}"]
    if sharded:
        key = SHARDING_KEY if name in layout.traced else "rand()"
        out.append(f"CREATE TABLE IF NOT EXISTS {name} {layout.on_cluster} AS {local}\n"
                   f"ENGINE = Distributed('{layout.cluster}', '{layout.database}', '{local}', {key})")
    return out


def _render_view(m: re.Match, layout: Layout) -> str:
    select = _SOURCES.sub(lambda s: f"{s.group(1)} {layout.local(s.group(2))}", m.group(4))
    return (f"CREATE MATERIALIZED VIEW IF NOT EXISTS {m.group(2)} {layout.on_cluster} "
            f"TO {layout.local(m.group(3))} AS {select}")


def _render_alter(m: re.Match, layout: Layout) -> list[str]:
    table, commands = m.group(1), m.group(2)
    out = [f"ALTER TABLE {layout.local(table)} {layout.on_cluster} {commands}"]
    if table in layout.sharded:
        parts = _split_top_level(commands)
        columnar = [bool(_COLUMN_COMMAND.match(p)) and not _CODEC_ONLY.match(p) for p in parts]
        if any(columnar) and not all(columnar):
            raise ClusterRenderError(f"ALTER TABLE {table}: split column changes from other changes")
        if all(columnar):  # the Distributed table must see the same columns as its shards
            out.append(f"ALTER TABLE {table} {layout.on_cluster} {commands}")
    return out


def render_statement(sql: str, layout: Layout) -> list[str]:
    """One plain statement as the statements that do the same on the cluster."""
    sql = sql.strip()
    if m := _CREATE_TABLE.match(sql):
        return _render_create_table(sql, m, layout)
    if m := _CREATE_MV.match(sql):
        return [_render_view(m, layout)]
    if m := _CREATE_OTHER.match(sql):
        ine = "IF NOT EXISTS " if m.group(2) else ""
        return [f"CREATE {m.group(1).upper()} {ine}{m.group(3)} {layout.on_cluster}{m.group(4)}"]
    if m := _ALTER.match(sql):
        return _render_alter(m, layout)
    if m := _DROP.match(sql):
        names = [m.group(3)] + ([layout.local(m.group(3))] if m.group(3) in layout.sharded else [])
        return [f"DROP {m.group(1).upper()} {m.group(2) or ''}{n} {layout.on_cluster}" for n in names]
    if m := _OPTIMIZE.match(sql):
        return [f"OPTIMIZE TABLE {layout.local(m.group(1))} {layout.on_cluster}{m.group(2)}"]
    if m := _TRUNCATE.match(sql):  # the rows live in the shards' tables; a Distributed table holds none
        return [f"TRUNCATE TABLE {m.group(1) or ''}{layout.local(m.group(2))} {layout.on_cluster}"]
    if re.match(r"^INSERT\s+INTO\s", sql, re.I):
        return [sql]  # data: once, through the Distributed tables
    raise ClusterRenderError(f"no cluster rendering for statement: {sql[:120]}")


def layout_for(migrations: Iterable[Migration], cluster: str, database: str) -> Layout:
    statements = [s for m in migrations for s in m.statements]
    sharded, traced = classify(statements)
    return Layout(cluster, database, frozenset(sharded), frozenset(traced))


def render_migrations(migrations: list[Migration], cluster: str, database: str) -> list[Migration]:
    layout = layout_for(migrations, cluster, database)
    return [replace(m, statements=tuple(s for sql in m.statements for s in render_statement(sql, layout)))
            for m in migrations]
