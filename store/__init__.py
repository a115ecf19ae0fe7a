"""ClickHouse storage: one client from a DSN, ordered migrations, typed rows and writers."""

from store.client import Store, StoreError, open_store

__all__ = ["Store", "StoreError", "open_store"]
