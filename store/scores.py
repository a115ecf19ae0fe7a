"""Writes to `scores`. Re-writing the same key replaces the row (ReplacingMergeTree on updated_at)."""

from __future__ import annotations

from collections.abc import Iterable

from store.client import Store
from store.rows import SCORE_COLUMNS, ScoreRow, score_tuple


def insert_scores(store: Store, rows: Iterable[ScoreRow]) -> int:
    batch = [score_tuple(r) for r in rows]
    store.insert("scores", batch, SCORE_COLUMNS)
    return len(batch)
