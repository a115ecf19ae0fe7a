"""Percentiles from the rollups' log-bucketed histograms (store/migrations/0052_latency_histograms).

Bucket b holds durations in [2^(b/16 - 10), 2^((b+1)/16 - 10)) ms; a percentile is the geometric middle of
the bucket holding its rank, so it is within ±2.2 % of the true value (t-digests are approximate too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

PER_DOUBLING = 16
OFFSET = 10  # bucket 0 starts at 2^-10 ms (~1 µs); shorter durations count there


def bucket_of(ms: float) -> int:
    """The bucket of a duration, as the migration's SQL computes it (for tests and Python callers)."""
    return max(0, math.floor((math.log2(max(ms, 0.001)) + OFFSET) * PER_DOUBLING))


def bucket_value(bucket: int) -> float:
    """The geometric middle of a bucket, in ms."""
    return 2 ** ((bucket + 0.5) / PER_DOUBLING - OFFSET)


def percentiles(hist: Mapping[int, int], qs: Sequence[float] = (0.5, 0.95, 0.99)) -> list[float | None]:
    """Nearest-rank percentiles of a histogram {bucket: count}; None for an empty one."""
    total = sum(hist.values())
    if not total:
        return [None] * len(qs)
    items = sorted(hist.items())
    out: list[float | None] = []
    for q in qs:
        rank, seen = max(1, math.ceil(q * total)), 0
        for bucket, count in items:
            seen += count
            if seen >= rank:
                out.append(bucket_value(bucket))
                break
    return out
