"""One ClickHouse client made from a DSN.

`chdb:///path` opens the embedded engine in this process; `http(s)://user:pass@host:8123/db` talks to a
server. chDB is one engine per process and its client is synchronous, so every call goes through one
lock: the store is shared deliberately, never opened twice.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlparse

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError

log = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """The store could not run a statement (unreachable, refused, or a query error)."""


def _redact_dsn(dsn: str) -> str:
    parsed = urlparse(dsn)
    if parsed.password:
        return dsn.replace(f":{parsed.password}@", ":***@")
    return dsn


class Store:
    """A thread-safe facade over one clickhouse-connect client."""

    def __init__(self, dsn: str, database: str | None = None) -> None:
        self.dsn = dsn
        self.embedded = dsn.startswith("chdb://")
        self._lock = threading.RLock()
        parsed = urlparse(dsn)
        self.database = database or (parsed.path.strip("/") if not self.embedded else "") or "default"
        try:
            if self.embedded:
                path = unquote(dsn[len("chdb://"):]) or ":memory:"
                if path != ":memory:":
                    os.makedirs(path, exist_ok=True)
                client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
            else:
                client = clickhouse_connect.get_client(
                    host=parsed.hostname or "localhost",
                    port=parsed.port or (8443 if parsed.scheme == "https" else 8123),
                    username=unquote(parsed.username or "default"),
                    password=unquote(parsed.password or ""),
                    secure=parsed.scheme == "https",
                    database="default",
                )
        except Exception as exc:  # the driver raises several unrelated types here
            raise StoreError(f"cannot open store {_redact_dsn(dsn)}: {exc}") from exc
        self._client = client
        if self.database != "default":
            self.command(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
            self._client.database = self.database

    def __repr__(self) -> str:
        return f"Store({_redact_dsn(self.dsn)!r}, database={self.database!r})"

    def command(self, sql: str, parameters: dict[str, Any] | None = None,
                settings: dict[str, Any] | None = None) -> Any:
        with self._lock:
            try:
                return self._client.command(sql, parameters=parameters, settings=settings)
            except ClickHouseError as exc:
                raise StoreError(str(exc)) from exc

    def query(self, sql: str, parameters: dict[str, Any] | None = None,
              settings: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts, for the read API."""
        with self._lock:
            try:
                result = self._client.query(sql, parameters=parameters, settings=settings)
            except ClickHouseError as exc:
                raise StoreError(str(exc)) from exc
        names = result.column_names
        return [dict(zip(names, row, strict=True)) for row in result.result_rows]

    def query_rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple]:
        with self._lock:
            try:
                return list(self._client.query(sql, parameters=parameters).result_rows)
            except ClickHouseError as exc:
                raise StoreError(str(exc)) from exc

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str],
               dedup_token: str | None = None) -> None:
        if not rows:
            return
        settings = {"insert_deduplication_token": dedup_token} if dedup_token else None
        with self._lock:
            try:
                self._client.insert(table, rows, column_names=list(columns), settings=settings)
            except ClickHouseError as exc:
                raise StoreError(str(exc)) from exc

    def close(self) -> None:
        with self._lock:
            self._client.close()


def open_store(dsn: str, database: str | None = None, retention_days: int = 30,
               cluster: str | None = None) -> Store:
    """Open the store and bring its schema up to date."""
    from store.migrate import migrate

    store = Store(dsn, database=database)
    migrate(store, retention_days=retention_days, cluster=cluster)
    return store
