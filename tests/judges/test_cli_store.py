"""`loupe judges` opens the store the way `loupe serve` does: with the configured cluster (no store is
opened here: open_store is replaced by a recorder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import store.client
from collector.cli import build_parser


class Opened(Exception):
    pass


@pytest.mark.parametrize("cluster", [None, "loupe_cluster"])
def test_worker_opens_the_store_with_the_configured_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            cluster: str | None) -> None:
    config = tmp_path / "loupe.yaml"
    config.write_text("dsn: http://db.example:8123/loupe\nretention_days: 45\n"
                      + (f"cluster: {cluster}\n" if cluster else ""), encoding="utf-8")
    seen: dict[str, Any] = {}

    def fake_open_store(dsn: str, database: str | None = None, retention_days: int = 30,
                        cluster: str | None = None) -> None:
        seen.update(dsn=dsn, database=database, retention_days=retention_days, cluster=cluster)
        raise Opened

    monkeypatch.setattr(store.client, "open_store", fake_open_store)
    for name in ("LOUPE_CLUSTER", "LOUPE_DSN", "LOUPE_RETENTION_DAYS"):
        monkeypatch.delenv(name, raising=False)
    args = build_parser().parse_args(["judges", "--config", str(config), "--once"])
    with pytest.raises(Opened):
        args.func(args)
    assert seen == {"dsn": "http://db.example:8123/loupe", "database": None, "retention_days": 45,
                    "cluster": cluster}
