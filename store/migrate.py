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


def load_migrations(retention_days: int = 30) -> list[Migration]:
    found = []
    for entry in resources.files("store.migrations").iterdir():
        match = _NAME.match(entry.name)
        if not match:
            continue
        text = entry.read_text(encoding="utf-8").replace("{retention_days}", str(int(retention_days)))
        body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
        statements = tuple(s.strip() for s in body.split(";") if s.strip())
        found.append(Migration(int(match.group(1)), match.group(2), statements))
    return sorted(found, key=lambda m: m.version)


def applied_versions(store: Store) -> set[int]:
    return {row[0] for row in store.query_rows("SELECT version FROM schema_migrations")}


def migrate(store: Store, retention_days: int = 30) -> list[int]:
    """Apply every pending migration in order; return the versions applied now."""
    store.command(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = ReplacingMergeTree ORDER BY version"
    )
    done = applied_versions(store)
    applied = []
    for migration in load_migrations(retention_days):
        if migration.version in done:
            continue
        for statement in migration.statements:
            store.command(statement)
        store.insert("schema_migrations", [(migration.version, migration.name)], ["version", "name"])
        log.info("applied migration %04d_%s", migration.version, migration.name)
        applied.append(migration.version)
    return applied
