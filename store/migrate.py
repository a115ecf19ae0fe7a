"""Ordered, idempotent migrations: `NNNN_name.up.sql` files applied once each and recorded."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

from store.client import Store

log = logging.getLogger(__name__)
_NAME = re.compile(r"^(\d{4})_(\w+)\.up\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def load_migrations(retention_days: int = 30, cluster: str | None = None,
                    database: str = "default") -> list[Migration]:
    found = []
    for entry in resources.files("store.migrations").iterdir():
        match = _NAME.match(entry.name)
        if not match:
            continue
        text = entry.read_text(encoding="utf-8").replace("{retention_days}", str(int(retention_days)))
        body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
        statements = tuple(s.strip() for s in body.split(";") if s.strip())
        found.append(Migration(int(match.group(1)), match.group(2), statements))
    found.sort(key=lambda m: m.version)
    if cluster:  # the same files, rewritten for Replicated + Distributed tables ON CLUSTER
        from store.cluster import render_migrations

        return render_migrations(found, cluster, database)
    return found


def applied_versions(store: Store) -> set[int]:
    return {row[0] for row in store.query_rows("SELECT version FROM schema_migrations")}


SCHEMA_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
    "ENGINE = ReplacingMergeTree ORDER BY version"
)


def migrate(store: Store, retention_days: int = 30, cluster: str | None = None) -> list[int]:
    """Apply every pending migration in order; return the versions applied now."""
    if store.embedded:  # one process owns an embedded store: nobody to race with
        if cluster:
            raise ValueError("a cluster needs a ClickHouse server DSN (http://…), not the embedded store")
        store.command(SCHEMA_MIGRATIONS)
        return _apply(store, retention_days, None)
    from store.leases import create_table, exclusive

    create_table(store, cluster)
    # Collectors starting together against one server or cluster take turns: one applies, the rest
    # find nothing pending, so a backfill never runs twice.
    with exclusive(store, "migrate", cluster=cluster):
        if cluster:
            from store.cluster import Layout, render_statement

            for statement in render_statement(SCHEMA_MIGRATIONS, Layout(cluster, store.database)):
                store.command(statement)
        else:
            store.command(SCHEMA_MIGRATIONS)
        return _apply(store, retention_days, cluster)


def _apply(store: Store, retention_days: int, cluster: str | None) -> list[int]:
    if cluster:  # this replica must have every version another node recorded before we compare
        store.command("SYSTEM SYNC REPLICA schema_migrations")
    done = applied_versions(store)
    applied = []
    for migration in load_migrations(retention_days, cluster, store.database):
        if migration.version in done:
            continue
        for statement in migration.statements:
            store.command(statement)
        store.insert("schema_migrations", [(migration.version, migration.name)], ["version", "name"])
        log.info("applied migration %04d_%s", migration.version, migration.name)
        applied.append(migration.version)
    return applied
