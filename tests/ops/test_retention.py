"""Per-project retention by TTL on chDB: expired rows vanish after OPTIMIZE … FINAL, content goes first,
a change needs no data rewrite, and `loupe projects set-retention` drives it through the API."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from store import retention
from store.client import Store
from store.keys import KeyRepository

pytestmark = pytest.mark.timeout(120)
AGES = (1, 5, 10, 40)  # days


def _seed(store: Store, project: str) -> None:
    now = datetime.now(UTC)
    spans, logs, scores = [], [], []
    for age in AGES:
        # An hour younger than `age` days, so that whole days of TTL are never on the edge.
        t = now - timedelta(days=age) + timedelta(hours=1)
        trace = f"{project}-{age:02d}".ljust(32, "0")
        spans.append((project, trace, f"s{age}", "", "root", t, t + timedelta(seconds=1), now,
                      f"question {age}", f"answer {age}", 0.01))
        logs.append((project, trace, f"s{age}", t, now, f"log body {age}"))
        scores.append((project, "trace", trace, trace, "quality", "human", 1.0, f"because {age}", t, t))
    store.insert("spans", spans, ["project", "trace_id", "span_id", "parent_span_id", "name", "start_time",
                                  "end_time", "ingested_at", "input", "output", "cost_usd"])
    store.insert("logs", logs, ["project", "trace_id", "span_id", "time", "ingested_at", "body"])
    store.insert("scores", scores, ["project", "target_type", "target_id", "trace_id", "name", "source", "value",
                                    "rationale", "created_at", "updated_at"])


def _optimize(store: Store) -> None:
    for table in retention.RETAINED:
        store.command(f"OPTIMIZE TABLE {table} FINAL")


def _left(store: Store, project: str) -> dict[str, dict[int, str]]:
    """Per table: age (days) -> the content still there."""
    p = {"p": project}
    # Days elapsed, rounded (rows are seeded an hour short of whole days; dateDiff('day') counts midnights).
    age = "toUInt32(round(dateDiff('second', {t}, now()) / 86400))"
    out = {
        "spans": store.query_rows(f"SELECT {age.format(t='start_time')}, input FROM spans "
                                  "WHERE project = {p:String}", p),
        "logs": store.query_rows(f"SELECT {age.format(t='time')}, body FROM logs WHERE project = {{p:String}}", p),
        "scores": store.query_rows(f"SELECT {age.format(t='created_at')}, rationale FROM scores FINAL "
                                   "WHERE project = {p:String}", p),
        "trace_list": store.query_rows(f"SELECT {age.format(t='first_start')}, input_preview FROM trace_list "
                                       "WHERE project = {p:String}", p),
    }
    return {table: dict(rows) for table, rows in out.items()}


def test_expired_rows_vanish_per_project_and_content_goes_first(store: Store) -> None:
    keys = KeyRepository(store)
    for project in ("short", "long"):
        keys.ensure_project(project, 30)
    assert retention.set_project(store, "short", 7, 2, "api")
    _seed(store, "short")
    _seed(store, "long")
    changed = retention.apply(store, default_days=30, wait=True)
    assert set(changed) == set(retention.RETAINED)
    _optimize(store)

    short, long_ = _left(store, "short"), _left(store, "long")
    for table in ("spans", "logs", "scores"):
        assert sorted(short[table]) == [1, 5], table  # 7 days for "short"
        assert sorted(long_[table]) == [1, 5, 10], table  # the 30-day default for "long"
        # Content outlives 2 days only in "long"; the rows (metrics) stay.
        assert short[table][5] == "" and short[table][1].endswith("1"), table
        assert long_[table][10].endswith("10"), table
    assert sorted(short["trace_list"]) == [1, 5] and short["trace_list"][5] == ""
    assert short["trace_list"][1] == "question 1" and sorted(long_["trace_list"]) == [1, 5, 10]
    assert store.query_rows("SELECT count() FROM spans_hourly WHERE project = 'short'")[0][0] == 2

    # Same policy again: nothing to do, no ALTER, no mutation.
    assert retention.apply(store, default_days=30) == {}

    # Shorten "long" to 3 days: the ALTER changes metadata and recalculates TTL bounds only (no column
    # is rewritten); the rows go in the next TTL merge (background, or OPTIMIZE here).
    assert retention.set_project(store, "long", 3, None, "api")
    assert retention.apply(store, default_days=30, wait=True).keys() == set(retention.RETAINED)
    create = store.query_rows("SHOW CREATE TABLE spans")[0][0]
    assert "materialize_ttl_recalculate_only = 1" in create and "transform(toString(project)" in create
    # The trace list's previews keep the codec their migration chose beside the TTL retention gave them.
    assert "`input_preview` String CODEC(LZ4HC(4)) TTL toDateTime(first_start) + " in \
        store.query_rows("SHOW CREATE TABLE trace_list")[0][0]
    _optimize(store)
    assert sorted(_left(store, "long")["spans"]) == [1]
    assert sorted(_left(store, "short")["spans"]) == [1, 5]


def test_config_projects_are_marked_and_fall_back_to_defaults(store: Store) -> None:
    KeyRepository(store).ensure_project("shop", 30)
    retention.sync_config(store, {"shop": (14, 3), "new-team": (None, 5)}, default_days=30)
    got = {p.project: p for p in retention.effective(store, 30)}
    assert (got["shop"].days, got["shop"].content_days, got["shop"].source) == (14, 3, "config")
    assert (got["new-team"].days, got["new-team"].content_days) == (30, 5)
    retention.sync_config(store, {}, default_days=30)  # removed from loupe.yaml: back to the default
    got = {p.project: p for p in retention.effective(store, 60, 10)}
    assert (got["shop"].days, got["shop"].content_days, got["shop"].source) == (60, 10, "")
    with pytest.raises(ValueError, match="content retention"):
        retention.sync_config(store, {"shop": (7, 9)}, default_days=30)


def test_every_table_with_trace_ids_opts_in_or_says_why_not(store: Store) -> None:
    rows = store.query_rows(
        "SELECT table FROM system.columns WHERE database = currentDatabase() AND name IN ('project', 'trace_id') "
        "AND table IN (SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND engine LIKE '%MergeTree') GROUP BY table HAVING count() = 2")
    tables = {r[0] for r in rows}
    undecided = tables - set(retention.RETAINED) - set(retention.NOT_RETAINED)
    assert not undecided, f"add {sorted(undecided)} to store/retention.py RETAINED (or NOT_RETAINED, with why)"


def _loupe(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "collector.cli", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **env})


def test_set_retention_command_through_the_api(server) -> None:
    env = {"LOUPE_URL": server.url, "LOUPE_API_KEY": server.admin_key}
    out = _loupe("projects", "set-retention", "default", "14", "--content-days", "3", env=env)
    assert out.returncode == 0, out.stderr
    assert "rows kept 14 days, content 3 days (api)" in out.stdout and "spans" in out.stdout
    assert "transform(toString(project), ['default'], [14]" in server.state.store.query_rows(
        "SHOW CREATE TABLE spans")[0][0]
    shown = _loupe("projects", "retention", "default", env=env)
    assert "rows kept 14 days, content 3 days" in shown.stdout
    with server.client() as c:
        assert c.put("/api/admin/projects/default/retention", json={"days": 3, "content_days": 9}).status_code == 422
        assert c.put("/api/admin/projects/default/retention", json={"days": 0}).status_code == 422
    # Another project's retention is not this admin key's business; a read key is not an admin key.
    other = server.new_key("admin", project="other-team")
    denied = _loupe("projects", "set-retention", "other-team", "7", env=env)
    assert denied.returncode != 0 and "cannot manage project 'other-team'" in denied.stderr
    with server.client(other) as c:
        assert c.put("/api/admin/projects/other-team/retention", json={"days": 7}).status_code == 200
    with server.client(server.new_key("read")) as c:
        assert c.put("/api/admin/projects/default/retention", json={"days": 7}).status_code == 403
    with server.client("lp_not_a_key_at_all_0000000000") as c:
        assert c.get("/api/admin/projects/default/retention").status_code == 401
