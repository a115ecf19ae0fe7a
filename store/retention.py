"""Per-project retention, enforced by ClickHouse TTL on every table that holds trace data.

Each retained table gets a row TTL (metrics-level data: the row goes) and column TTLs on its content
columns (inputs, outputs, documents…: reset to empty earlier, while counts, costs and latencies stay).
The days come from the `projects` rows, written into the TTL as a deterministic `transform(project,
[names], [days], default)`.

Why not a dictionary in the TTL: ClickHouse refuses non-deterministic functions there unless
`allow_suspicious_ttl_expressions` is on, a dictionary miss at insert bakes the default into a part,
and a dictionary that fails to load (a rotated password on a server) makes every TTL merge fail, which
blocks merges and then inserts. A literal map has none of those failure modes; the cost is one
`ALTER … MODIFY TTL` per retention change, which is metadata only: the tables carry
`materialize_ttl_recalculate_only = 1`, so the follow-up MATERIALIZE TTL only recomputes each part's
TTL bounds (it reads the project and time columns, rewrites no data) and the rows go in ordinary TTL
merges. A change is skipped when the same statement was applied before (`retention_policy`).

A new table that holds trace data opts in by adding a line to RETAINED below (its time expression
and its content columns); tests/ops/test_retention.py fails for a table with `project` and
`trace_id` columns that is neither in RETAINED nor in NOT_RETAINED.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from store.client import Store

MAX_DAYS = 36_500


@dataclass(frozen=True)
class Retained:
    time: str  # the row's time as a DateTime/Date expression
    content: tuple[str, ...] = ()  # columns that hold user content: the shorter, content TTL


RETAINED: dict[str, Retained] = {
    "spans": Retained("toDateTime(start_time)", (
        "input", "output", "documents", "tool_calls", "events", "attributes", "prompt_variables",
        "status_message")),
    "logs": Retained("toDateTime(time)", ("body", "attributes")),
    "trace_list": Retained("toDateTime(first_start)", ("input_preview", "output_preview")),
    "scores": Retained("toDateTime(created_at)", ("rationale", "comment")),
    "spans_hourly": Retained("hour"),
    "spans_hourly_total": Retained("hour"),
    "trace_facets_hourly": Retained("hour"),
    "trace_bounds": Retained("toDateTime(first_start)"),
    "spans_daily": Retained("day"),
    "review_items": Retained("toDateTime(added_at)"),  # ids only; goes with the traces it points at
}
# Tables with trace ids that deliberately keep no per-project TTL, and why.
NOT_RETAINED: dict[str, str] = {}


@dataclass(frozen=True)
class ProjectRetention:
    project: str
    days: int
    content_days: int
    source: str  # '' (the global default), 'config' (loupe.yaml) or 'api'


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _check(days: int, content_days: int | None) -> None:
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"retention must be between 1 and {MAX_DAYS} days")
    if content_days is not None and not 1 <= content_days <= days:
        raise ValueError("content retention must be between 1 day and the retention itself")


def effective(store: Store, default_days: int, default_content: int | None = None) -> list[ProjectRetention]:
    """Every project's retention as enforced: explicit rows win, the rest follow the defaults."""
    default_content = min(default_content or default_days, default_days)
    out = []
    for r in store.query("SELECT name, retention_days, content_days, retention_source FROM projects FINAL "
                         "ORDER BY name"):
        if r["retention_source"]:
            days = int(r["retention_days"])
            content = min(int(r["content_days"]) or days, days)
        else:
            days, content = default_days, default_content
        out.append(ProjectRetention(r["name"], days, content, r["retention_source"]))
    return out


def _days_expr(overrides: dict[str, int], default: int) -> str:
    if not overrides:
        return f"toIntervalDay({default})"
    names = sorted(overrides)
    return (f"toIntervalDay(transform(toString(project), [{', '.join(_quote(n) for n in names)}], "
            f"[{', '.join(str(overrides[n]) for n in names)}], {default}))")


def ttl_statement(table: str, spec: Retained, policy: list[ProjectRetention], default_days: int,
                  default_content: int, columns: set[str], target: str, on_cluster: str = "") -> str:
    """The one ALTER that sets a table's row TTL and its content columns' TTL."""
    rows = _days_expr({p.project: p.days for p in policy if p.days != default_days}, default_days)
    content = _days_expr({p.project: p.content_days for p in policy if p.content_days != default_content},
                         default_content)
    # MODIFY TTL goes last: the parser would read a following comma as another TTL rule.
    commands = [f"MODIFY COLUMN {c} TTL {spec.time} + {content}" for c in spec.content if c in columns]
    commands.append(f"MODIFY TTL {spec.time} + {rows}")
    return f"ALTER TABLE {target}{on_cluster} " + ", ".join(commands)


def apply(store: Store, default_days: int, default_content: int | None = None, cluster: str | None = None,
          wait: bool = False) -> dict[str, str]:
    """Bring every retained table's TTL in line with the projects' retention; returns what changed.

    Re-reads the policy after applying, so two collectors changing retention at once converge on the
    later state instead of the slower writer's."""
    default_content = min(default_content or default_days, default_days)
    changed: dict[str, str] = {}
    for _ in range(3):
        policy = effective(store, default_days, default_content)
        done = _apply_once(store, policy, default_days, default_content, cluster, wait)
        changed.update(done)
        if not done or effective(store, default_days, default_content) == policy:
            break
    return changed


def _apply_once(store: Store, policy: list[ProjectRetention], default_days: int, default_content: int,
                cluster: str | None, wait: bool) -> dict[str, str]:
    applied = {r["table_name"]: r["policy"] for r in store.query(
        "SELECT table_name, policy FROM retention_policy FINAL")}
    on_cluster = f" ON CLUSTER `{cluster}`" if cluster else ""
    changed = {}
    for table, spec in RETAINED.items():
        target = f"{table}_local" if cluster else table  # the shards' tables carry the data and the TTL
        columns = {r[0] for r in store.query_rows(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String}",
            {"t": target})}
        if not columns:
            continue  # a table this deployment has not created (yet)
        statement = ttl_statement(table, spec, policy, default_days, default_content, columns, target,
                                  on_cluster)
        if applied.get(table) == statement:
            continue
        if table not in applied:  # first time: make the TTL recalculation metadata-only
            store.command(f"ALTER TABLE {target}{on_cluster} MODIFY SETTING materialize_ttl_recalculate_only = 1")
        store.command(statement, settings={"mutations_sync": 2} if wait else None)
        store.insert("retention_policy", [(table, statement, datetime.now(UTC))],
                     ["table_name", "policy", "applied_at"])
        changed[table] = statement
    return changed


def set_project(store: Store, project: str, days: int, content_days: int | None, source: str) -> bool:
    """Record a project's own retention; False if the project does not exist."""
    _check(days, content_days)
    rows = store.query("SELECT created_at FROM projects FINAL WHERE name = {n:String}", {"n": project})
    if not rows:
        return False
    now = datetime.now(UTC)
    store.insert("projects", [(project, days, content_days or 0, source, rows[0]["created_at"], now)],
                 ["name", "retention_days", "content_days", "retention_source", "created_at", "updated_at"])
    return True


def sync_config(store: Store, configured: dict[str, tuple[int | None, int | None]], default_days: int) -> None:
    """Make the projects' rows match loupe.yaml: configured projects get source 'config' (created if
    new); projects that left the file go back to the defaults."""
    rows = {r["name"]: r for r in store.query(
        "SELECT name, retention_days, content_days, retention_source, created_at FROM projects FINAL")}
    now = datetime.now(UTC)
    inserts: list[tuple[Any, ...]] = []
    for name, (days, content) in configured.items():
        days = days or default_days
        _check(days, content)
        row = rows.get(name)
        if row and (row["retention_source"], row["retention_days"], row["content_days"]) == ("config", days,
                                                                                              content or 0):
            continue
        inserts.append((name, days, content or 0, "config", row["created_at"] if row else now, now))
    for name, row in rows.items():
        if row["retention_source"] == "config" and name not in configured:
            inserts.append((name, row["retention_days"], 0, "", row["created_at"], now))
    if inserts:
        store.insert("projects", inserts,
                     ["name", "retention_days", "content_days", "retention_source", "created_at", "updated_at"])
