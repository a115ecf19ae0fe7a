"""A collector on a fresh database, seeded once and shared by a whole test package (read-only tests)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from store.client import Store
from store.migrate import migrate
from tests.conftest import RunningServer, make_settings, start_server, stop_server
from tests.support.seed import SeedInfo, seed


@dataclass
class Seeded:
    server: RunningServer
    info: SeedInfo
    read_key: str  # read scope on the seeded project
    review_key: str  # read + review
    ingest_key: str  # ingest only: no read
    other_key: str  # ingest+read on another project, which has a little data of its own

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, key: str | None = None):
        return self.server.client(key or self.read_key)


def seeded_server(engine_dsn: str, tmp: Path) -> Iterator[Seeded]:
    store = Store(engine_dsn, database=f"t_{uuid.uuid4().hex[:12]}")
    migrate(store)
    running = start_server(make_settings(tmp), store)
    try:
        ingest = running.new_key("ingest", name="seed-app")
        # Only the first key of a new project can come from this admin key, so one key does both.
        other = running.new_key("ingest,read", project="other-project", name="outsider")
        info = seed(running.url, ingest, store)
        seed(running.url, other, store, project="other-project", sessions=3, rng_seed=99)
        running.wait_stored()
        yield Seeded(running, info, running.new_key("read", name="reader"),
                     running.new_key("read,review", name="reviewer"), ingest, other)
    finally:
        stop_server(running)
        store.command(f"DROP DATABASE IF EXISTS `{store.database}`")
