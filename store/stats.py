"""Storage figures for operators and benchmarks: rows and bytes per table."""

from __future__ import annotations

from store.client import Store


def table_sizes(store: Store) -> list[dict]:
    return store.query(
        "SELECT table, sum(rows) AS rows, sum(data_compressed_bytes) AS compressed_bytes, "
        "sum(data_uncompressed_bytes) AS uncompressed_bytes, sum(bytes_on_disk) AS bytes_on_disk "
        "FROM system.parts WHERE active AND database = currentDatabase() GROUP BY table ORDER BY table")
