"""Text drift: can a classifier tell the current window's texts from the reference window's?

Texts become vectors (TF-IDF, or embeddings from an endpoint), reduced to a few dense dimensions
(truncated SVD / PCA, fitted on both windows together — no labels, so nothing leaks into the test)
and standardised. A domain classifier — L2-regularised logistic regression — is cross-validated
(5 folds); its out-of-fold AUC is the drift effect (0.5: indistinguishable, 1: disjoint). The
p-value is a permutation test: the same classifier refitted on shuffled window labels. All label
columns (the real one and every permutation) are fitted at once by accelerated gradient descent on
the standardised features, which makes 100 permutations cost about what 5 sklearn fits do; permutations
run in batches and stop early once the observed AUC is clearly ordinary (Besag–Clifford sequential
p-value), so a window without drift is cheap. K-means clusters of the same vectors show which topics
grew or appeared, with example ids.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from scipy.stats import rankdata
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from threadpoolctl import threadpool_limits

from analytics.stats import holm, two_proportions

DIMS = 32
FOLDS = 5
PERMUTATIONS = 99  # at most; min p-value 0.01
EARLY_STOP_HITS = 10  # stop permuting after this many permutations beat the observed AUC
CLUSTERS = 8
T = TypeVar("T")
_BATCH = 25
_L2 = 1e-2
_ITERS = 40


@dataclass
class TextSpace:
    x: np.ndarray  # (n, d) standardised dense features
    tfidf: object | None = None  # sparse TF-IDF rows (for cluster terms), when TF-IDF was used
    terms: np.ndarray | None = None


@dataclass(frozen=True)
class DomainResult:
    auc: float
    p_value: float | None
    permutations: int

    @property
    def score(self) -> float:
        return max(0.0, 2 * self.auc - 1)


@dataclass
class ClusterShift:
    cluster: int
    reference_share: float
    current_share: float
    change: float
    p_value: float | None = None
    grew: bool = False
    appeared: bool = False
    terms: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)  # ids of current members nearest the centre


def _one_thread(fn: Callable[..., T]) -> Callable[..., T]:
    """Small matrices: one BLAS/OpenMP thread is fastest, and many threads on a busy host are far slower."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        with threadpool_limits(limits=1):
            return fn(*args, **kwargs)

    return wrapper


def _standardise(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=0)
    sd = x.std(axis=0)
    return x / np.where(sd > 0, sd, 1.0)


@_one_thread
def tfidf_space(texts: list[str], dims: int = DIMS, seed: int = 0) -> TextSpace:
    vectorizer = TfidfVectorizer(max_features=20_000, ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                                 strip_accents="unicode", dtype=np.float32)
    try:
        m = vectorizer.fit_transform(texts)
    except ValueError:  # empty vocabulary: every text empty or unique words only
        return TextSpace(np.zeros((len(texts), 1)))
    k = min(dims, m.shape[1] - 1, m.shape[0] - 1)
    if k < 1:
        return TextSpace(np.zeros((len(texts), 1)), m, vectorizer.get_feature_names_out())
    reduced = TruncatedSVD(n_components=k, random_state=seed, n_iter=4).fit_transform(m)
    return TextSpace(_standardise(reduced), m, vectorizer.get_feature_names_out())


@_one_thread
def vector_space(vectors: np.ndarray, dims: int = DIMS) -> TextSpace:
    """Embeddings: unit length, centred, top principal components."""
    v = np.asarray(vectors, dtype=float)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    v = v - v.mean(axis=0)
    k = min(dims, v.shape[1], v.shape[0] - 1)
    u, s, _ = np.linalg.svd(v, full_matrices=False)
    return TextSpace(_standardise(u[:, :k] * s[:k]))


def _fit_logistic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Weights (d+1, m) for m label columns at once: mean log-loss + L2, Nesterov accelerated gradient."""
    n = x.shape[0]
    xb = np.hstack([x, np.ones((n, 1))])
    lip = 0.25 * float(np.linalg.eigvalsh(xb.T @ xb / n).max()) + _L2
    step = 1.0 / lip
    w = np.zeros((xb.shape[1], y.shape[1]))
    v, t = w.copy(), 1.0
    mask = np.ones((xb.shape[1], 1))
    mask[-1] = 0.0  # the intercept is not penalised
    for _ in range(_ITERS):
        z = np.clip(xb @ v, -30, 30)
        grad = xb.T @ (1.0 / (1.0 + np.exp(-z)) - y) / n + _L2 * mask * v
        w_next = v - step * grad
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        v = w_next + (t - 1) / t_next * (w_next - w)
        w, t = w_next, t_next
    return w


def _cv_auc(x: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Out-of-fold AUC for each label column."""
    scores = np.zeros(labels.shape)
    for f in np.unique(folds):
        test = folds == f
        w = _fit_logistic(x[~test], labels[~test])
        scores[test] = np.hstack([x[test], np.ones((int(test.sum()), 1))]) @ w
    ranks = rankdata(scores, axis=0)
    pos = labels.sum(axis=0)
    neg = len(labels) - pos
    return ((ranks * labels).sum(axis=0) - pos * (pos + 1) / 2) / (pos * neg)


def domain_classifier(space: TextSpace, is_current: np.ndarray, permutations: int = PERMUTATIONS,
                      folds: int = FOLDS, seed: int = 0) -> DomainResult:
    """Cross-validated AUC of telling current (1) from reference (0), with a permutation p-value."""
    y = np.asarray(is_current, dtype=float)
    if min(y.sum(), len(y) - y.sum()) < folds * 2 or space.x.shape[1] == 0:
        return DomainResult(0.5, None, 0)
    with threadpool_limits(limits=1):
        return _domain(space.x, y, permutations, folds, seed)


def _domain(x: np.ndarray, y: np.ndarray, permutations: int, folds: int, seed: int) -> DomainResult:
    rng = np.random.default_rng(seed)
    fold_of = rng.permutation(len(y)) % folds
    observed = float(_cv_auc(x, y[:, None], fold_of)[0])
    if permutations <= 0:
        return DomainResult(observed, None, 0)
    hits, done = 0, 0
    while done < permutations:
        batch = min(_BATCH, permutations - done)
        shuffled = np.stack([rng.permutation(y) for _ in range(batch)], axis=1)
        hits += int((_cv_auc(x, shuffled, fold_of) >= observed).sum())
        done += batch
        if hits >= EARLY_STOP_HITS:
            return DomainResult(observed, hits / done, done)
    return DomainResult(observed, (1 + hits) / (1 + done), done)


def _top_terms(space: TextSpace, members: np.ndarray, limit: int = 6) -> list[str]:
    if space.tfidf is None or space.terms is None or not members.any():
        return []
    inside = np.asarray(space.tfidf[members].mean(axis=0)).ravel()
    overall = np.asarray(space.tfidf.mean(axis=0)).ravel()
    lift = inside - overall
    return [str(space.terms[i]) for i in np.argsort(-lift)[:limit] if lift[i] > 0]


@_one_thread
def cluster_shifts(space: TextSpace, is_current: np.ndarray, ids: list[str], k: int = CLUSTERS,
                   seed: int = 0, examples: int = 5, min_change: float = 0.02) -> list[ClusterShift]:
    """K-means over both windows; each cluster's share before and after, largest growth first.

    A cluster grew when its share rose by at least `min_change` and a two-proportion test (Holm over
    the clusters) says so; it appeared when it held under 0.5 % of the reference and grew.
    """
    y = np.asarray(is_current, dtype=bool)
    n_ref, n_cur = int((~y).sum()), int(y.sum())
    k = min(k, len(y) // 20)
    if k < 2 or not n_ref or not n_cur:
        return []
    model = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(space.x)
    labels = model.labels_
    distance = np.linalg.norm(space.x - model.cluster_centers_[labels], axis=1)
    out = []
    for c in range(k):
        members = labels == c
        ref_n, cur_n = int((members & ~y).sum()), int((members & y).sum())
        shift = ClusterShift(c, ref_n / n_ref, cur_n / n_cur, cur_n / n_cur - ref_n / n_ref,
                             p_value=two_proportions(ref_n, n_ref, cur_n, n_cur))
        shift.terms = _top_terms(space, members)
        current = np.flatnonzero(members & y)
        shift.examples = [ids[i] for i in current[np.argsort(distance[current])][:examples]]
        out.append(shift)
    for shift, p in zip(out, holm([s.p_value for s in out]), strict=True):
        shift.p_value = p
        shift.grew = shift.change >= min_change and p is not None and p < 0.05
        shift.appeared = shift.grew and shift.reference_share < 0.005
    return sorted(out, key=lambda s: -s.change)
