"""Statistics for regressions, drift and the weekly report. Pure functions: numbers in, numbers out.

Score samples travel as histograms (distinct values and their counts): judges and rubrics give few
distinct values (0, 0.5, 1; 1..5), so a million scores become a handful of pairs and every test here
costs the same whatever the traffic. Continuous values are rounded to 3 decimals by the caller.

Choices, written down once:
- difference of means: percentile bootstrap, resampling each group as a multinomial over its histogram
  (identical to resampling the raw values), 2,000 resamples, a fixed seed;
- significance: Mann–Whitney U (two-sided, normal approximation with tie correction and continuity,
  as scipy's asymptotic method) for scores; two-proportion z for 0/1 scores and rates; Welch z for
  means with known variances (latency, cost per request);
- multiple comparisons: Holm (family-wise) by default, Benjamini–Hochberg (false discovery) on request;
- minimum sample size: 30 per group (below it a comparison is reported, never called significant);
- PSI: 10 bins at the reference's deciles (tied edges merged, so discrete features get their own
  values as bins), half a count added to every bin so an empty bin does not make PSI infinite;
  categories beyond the 20 most frequent fold into "(other)";
- two-sample tests: Kolmogorov–Smirnov for numeric features, chi-squared on the 2×k table for categories.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# numpy and SciPy are imported inside the functions: every collector process imports this module (through
# regressions, safety and drift) while few run a test, and SciPy alone costs over a second to import.

MIN_SAMPLES = 30
N_BOOTSTRAP = 2000
PSI_BINS = 10
MAX_CATEGORIES = 20
OTHER = "(other)"


@dataclass(frozen=True)
class Hist:
    """A sample as distinct values and counts."""

    values: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, sample: Sequence[float] | np.ndarray) -> Hist:
        import numpy as np

        values, counts = np.unique(np.asarray(sample, dtype=float), return_counts=True)
        return cls(values, counts.astype(float))

    @classmethod
    def from_pairs(cls, pairs: Mapping[float, float] | Sequence[tuple[float, float]]) -> Hist:
        import numpy as np

        items = sorted(pairs.items() if isinstance(pairs, Mapping) else pairs)
        merged: dict[float, float] = {}
        for v, c in items:
            if c > 0:
                merged[float(v)] = merged.get(float(v), 0.0) + float(c)
        return cls(np.array(list(merged), dtype=float), np.array(list(merged.values()), dtype=float))

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def mean(self) -> float:
        return float(self.values @ self.counts / self.counts.sum()) if self.n else math.nan

    @property
    def var(self) -> float:
        if self.n < 2:
            return math.nan
        return float(((self.values - self.mean) ** 2) @ self.counts / (self.n - 1))

    @property
    def binary(self) -> bool:
        return bool(self.n) and set(self.values.tolist()) <= {0.0, 1.0}


@dataclass(frozen=True)
class Difference:
    """B compared with A: diff = mean(B) - mean(A), its bootstrap CI and a two-sided p-value."""

    n_a: int
    n_b: int
    mean_a: float | None
    mean_b: float | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    test: str
    enough: bool  # both groups have at least the minimum sample size

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def bootstrap_diff_ci(a: Hist, b: Hist, level: float = 0.95, n_boot: int = N_BOOTSTRAP,
                      seed: int = 0) -> tuple[float, float]:
    """Percentile CI of mean(B) - mean(A)."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def means(h: Hist) -> np.ndarray:
        draws = rng.multinomial(h.n, h.counts / h.counts.sum(), size=n_boot)
        return draws @ h.values / h.n

    diffs = means(b) - means(a)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return float(low), float(high)


def mann_whitney(a: Hist, b: Hist) -> tuple[float, float]:
    """(P(B > A) + P(B = A)/2, two-sided p). Ties share midranks; normal approximation."""
    import numpy as np
    from scipy import stats as sps

    values = np.union1d(a.values, b.values)
    ca = np.zeros(len(values))
    cb = np.zeros(len(values))
    ca[np.searchsorted(values, a.values)] = a.counts
    cb[np.searchsorted(values, b.values)] = b.counts
    t = ca + cb
    ranks = np.cumsum(t) - t + (t + 1) / 2
    na, nb = a.n, b.n
    n = na + nb
    u = float(cb @ ranks - nb * (nb + 1) / 2)
    effect = u / (na * nb)
    sd = math.sqrt(na * nb / 12 * ((n + 1) - float((t ** 3 - t).sum()) / (n * (n - 1))))
    if sd == 0:
        return effect, 1.0
    z = (abs(u - na * nb / 2) - 0.5) / sd
    return effect, float(min(1.0, 2 * sps.norm.sf(max(z, 0.0))))


def two_proportions(x_a: float, n_a: int, x_b: float, n_b: int) -> float:
    """Two-sided p of the pooled two-proportion z test."""
    from scipy import stats as sps

    if not n_a or not n_b:
        return math.nan
    pooled = (x_a + x_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 1.0
    z = (x_b / n_b - x_a / n_a) / se
    return float(2 * sps.norm.sf(abs(z)))


def welch_z(mean_a: float, var_a: float, n_a: int, mean_b: float, var_b: float, n_b: int) -> float:
    """Two-sided p for a difference of means from summaries (large samples: normal, not t)."""
    from scipy import stats as sps

    if n_a < 2 or n_b < 2:
        return math.nan
    se = math.sqrt(var_a / n_a + var_b / n_b)
    if se == 0:
        return 1.0 if mean_a == mean_b else 0.0
    return float(2 * sps.norm.sf(abs(mean_b - mean_a) / se))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values (None stays None and does not count as a comparison)."""
    idx = [i for i, p in enumerate(p_values) if p is not None and not math.isnan(p)]
    out: list[float | None] = [None] * len(p_values)
    m, running = len(idx), 0.0
    for rank, i in enumerate(sorted(idx, key=lambda j: p_values[j])):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out


def benjamini_hochberg(p_values: Sequence[float | None]) -> list[float | None]:
    idx = [i for i, p in enumerate(p_values) if p is not None and not math.isnan(p)]
    out: list[float | None] = [None] * len(p_values)
    m, running = len(idx), 1.0
    for rank, i in reversed(list(enumerate(sorted(idx, key=lambda j: p_values[j]), start=1))):
        running = min(running, p_values[i] * m / rank)
        out[i] = running
    return out


def adjust(p_values: Sequence[float | None], method: str = "holm") -> list[float | None]:
    if method == "holm":
        return holm(p_values)
    if method in ("bh", "fdr"):
        return benjamini_hochberg(p_values)
    raise ValueError("correction must be holm or bh")


def compare(a: Hist, b: Hist, min_samples: int = MIN_SAMPLES, seed: int = 0,
            level: float = 0.95) -> Difference:
    """Everything a regression needs about two score samples (A = baseline, B = candidate)."""
    enough = a.n >= min_samples and b.n >= min_samples
    if not a.n or not b.n:
        return Difference(a.n, b.n, a.mean if a.n else None, b.mean if b.n else None, None, None, None,
                          None, "none", False)
    if a.binary and b.binary:
        test = "two-proportion z"
        p = two_proportions(float(a.counts[a.values == 1].sum()), a.n, float(b.counts[b.values == 1].sum()), b.n)
    else:
        test = "Mann-Whitney U"
        p = mann_whitney(a, b)[1]
    low, high = bootstrap_diff_ci(a, b, level=level, seed=seed) if a.n > 1 and b.n > 1 else (None, None)
    return Difference(a.n, b.n, a.mean, b.mean, b.mean - a.mean, low, high, p, test, enough)


# --- drift: PSI and two-sample tests --------------------------------------------------------------------


def quantile_edges(reference: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """Inner bin edges at the reference's quantiles; ties collapse, so a discrete feature keeps its values."""
    import numpy as np

    ref = np.asarray(reference, dtype=float)
    ref = ref[~np.isnan(ref)]
    if not len(ref):
        return np.array([])
    return np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    import numpy as np

    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    # right-closed bins, so a discrete value sitting on an edge lands with its own kind
    return np.bincount(np.searchsorted(edges, v, side="left"), minlength=len(edges) + 1).astype(float)


def psi_counts(ref_counts: np.ndarray, cur_counts: np.ndarray, smoothing: float = 0.5) -> float:
    import numpy as np

    r = np.asarray(ref_counts, dtype=float) + smoothing
    c = np.asarray(cur_counts, dtype=float) + smoothing
    r, c = r / r.sum(), c / c.sum()
    return float(((c - r) * np.log(c / r)).sum())


def tvd_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Total variation distance: 0 identical, 1 disjoint (the best single-feature classifier's edge)."""
    import numpy as np

    r = np.asarray(ref_counts, dtype=float)
    c = np.asarray(cur_counts, dtype=float)
    if not r.sum() or not c.sum():
        return 0.0
    return float(0.5 * np.abs(r / r.sum() - c / c.sum()).sum())


def psi_numeric(reference: np.ndarray, current: np.ndarray, bins: int = PSI_BINS) -> float:
    edges = quantile_edges(reference, bins)
    return psi_counts(bin_counts(reference, edges), bin_counts(current, edges))


def ks_test(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    import numpy as np
    from scipy import stats as sps

    r = np.asarray(reference, dtype=float)
    c = np.asarray(current, dtype=float)
    r, c = r[~np.isnan(r)], c[~np.isnan(c)]
    if len(r) < 2 or len(c) < 2:
        return math.nan, math.nan
    result = sps.ks_2samp(r, c)
    return float(result.statistic), float(result.pvalue)


def category_table(reference: Mapping[str, float], current: Mapping[str, float],
                   max_categories: int = MAX_CATEGORIES) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Aligned counts of two category distributions; rare categories fold into "(other)"."""
    import numpy as np

    total: dict[str, float] = {}
    for counts in (reference, current):
        for k, v in counts.items():
            total[k] = total.get(k, 0.0) + v
    keep = sorted(total, key=lambda k: (-total[k], k))[:max_categories]
    names = keep + ([OTHER] if len(total) > len(keep) else [])

    def aligned(counts: Mapping[str, float]) -> np.ndarray:
        row = [float(counts.get(k, 0.0)) for k in keep]
        if len(names) > len(keep):
            row.append(float(sum(v for k, v in counts.items() if k not in keep)))
        return np.array(row)

    return names, aligned(reference), aligned(current)


def chi2_test(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    import numpy as np
    from scipy import stats as sps

    table = np.vstack([ref_counts, cur_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    stat, p, _, _ = sps.chi2_contingency(table, correction=False)
    return float(stat), float(p)
