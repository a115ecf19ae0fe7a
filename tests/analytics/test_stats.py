"""The statistics core on data with known answers: fixed seeds, bounded repetitions."""

from __future__ import annotations

import random

import numpy as np
import pytest
from scipy import stats as sps

from analytics import stats
from analytics.textdrift import cluster_shifts, domain_classifier, tfidf_space
from tests.analytics.synth import TOPICS, question

pytestmark = pytest.mark.timeout(120)


def test_mann_whitney_from_histograms_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(1)
    a = rng.choice([0, 0.5, 1], size=300, p=[0.2, 0.3, 0.5])
    b = rng.choice([0, 0.5, 1], size=250, p=[0.3, 0.3, 0.4])
    effect, p = stats.mann_whitney(stats.Hist.of(a), stats.Hist.of(b))
    expected = sps.mannwhitneyu(b, a, alternative="two-sided", method="asymptotic", use_continuity=True)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)
    assert effect == pytest.approx(expected.statistic / (len(a) * len(b)))


def test_holm_and_benjamini_hochberg_known_values() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    assert stats.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert stats.holm([0.01, None]) == [pytest.approx(0.01), None]  # untested comparisons do not count


def test_bootstrap_interval_covers_the_true_difference_about_95_percent() -> None:
    rng = np.random.default_rng(2)
    covered = 0
    runs = 200
    for i in range(runs):
        a = rng.choice([0.0, 0.5, 1.0], size=80, p=[0.2, 0.3, 0.5])  # mean 0.65
        b = rng.choice([0.0, 0.5, 1.0], size=80, p=[0.3, 0.3, 0.4])  # mean 0.55
        low, high = stats.bootstrap_diff_ci(stats.Hist.of(a), stats.Hist.of(b), n_boot=1000, seed=i)
        covered += low <= -0.10 <= high
    assert 0.89 <= covered / runs <= 0.99


def test_tests_hold_their_nominal_false_alarm_rate_without_a_shift() -> None:
    rng = np.random.default_rng(3)
    runs, alarms = 400, {"mwu": 0, "z": 0, "ks": 0, "chi2": 0}
    for _ in range(runs):
        a, b = rng.choice([0, 0.5, 1], size=200), rng.choice([0, 0.5, 1], size=200)
        alarms["mwu"] += stats.mann_whitney(stats.Hist.of(a), stats.Hist.of(b))[1] < 0.05
        alarms["z"] += stats.two_proportions(rng.binomial(200, 0.1), 200, rng.binomial(200, 0.1), 200) < 0.05
        alarms["ks"] += stats.ks_test(rng.lognormal(size=200), rng.lognormal(size=200))[1] < 0.05
        counts = rng.multinomial(300, [0.5, 0.3, 0.2], size=2)
        alarms["chi2"] += stats.chi2_test(counts[0], counts[1])[1] < 0.05
    for name, n in alarms.items():
        assert 0.02 <= n / runs <= 0.085, (name, n / runs)


def test_compare_finds_a_real_drop_and_respects_minimum_samples() -> None:
    rng = np.random.default_rng(4)
    a = stats.Hist.of(rng.choice([0, 0.5, 1], size=400, p=[0.1, 0.2, 0.7]))
    b = stats.Hist.of(rng.choice([0, 0.5, 1], size=400, p=[0.3, 0.2, 0.5]))
    diff = stats.compare(a, b)
    assert diff.enough and diff.test == "Mann-Whitney U" and diff.p_value < 1e-6
    assert diff.ci_high < 0 < -diff.ci_low and diff.ci_low < diff.diff < diff.ci_high
    small = stats.compare(stats.Hist.of([1.0] * 10), stats.Hist.of([0.0] * 10))
    assert not small.enough
    binary = stats.compare(stats.Hist.of([0] * 90 + [1] * 10), stats.Hist.of([0] * 70 + [1] * 30))
    assert binary.test == "two-proportion z" and binary.p_value < 0.01


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(5)
    ref = rng.normal(size=5000)
    assert stats.psi_numeric(ref, rng.normal(size=5000)) < 0.02
    assert 0.7 < stats.psi_numeric(ref, rng.normal(1.0, 1.0, size=5000)) < 1.2  # J-divergence of 1 sd is 1
    discrete = rng.integers(0, 3, size=2000)  # tied edges collapse: three values, three bins
    assert len(stats.quantile_edges(discrete)) <= 3
    names, r, c = stats.category_table({"a": 50, "b": 30, "c": 20}, {"a": 20, "b": 30, "d": 50})
    assert set(names) == {"a", "b", "c", "d"} and stats.psi_counts(r, c) > 1.0
    assert stats.tvd_counts(r, c) == pytest.approx(0.5)


def _texts(rng: random.Random, n: int, mix: dict[str, float]) -> list[str]:
    return [question(rng, rng.choices(list(mix), list(mix.values()))[0]) for _ in range(n)]


BASE = {"billing": 0.4, "shipping": 0.3, "account": 0.3}
SHIFTED = {"billing": 0.3, "shipping": 0.25, "account": 0.25, "plus": 0.2}


def test_domain_classifier_detects_a_new_topic_and_its_cluster() -> None:
    rng = random.Random(6)
    ref, cur = _texts(rng, 600, BASE), _texts(rng, 600, SHIFTED)
    space = tfidf_space(ref + cur)
    y = np.r_[np.zeros(600), np.ones(600)]
    result = domain_classifier(space, y, permutations=99)
    assert result.auc > 0.55 and result.p_value == pytest.approx(0.01)  # no permutation beat it
    shifts = cluster_shifts(space, y, [str(i) for i in range(1200)])
    new = [s for s in shifts if s.appeared]
    assert new and len(set(new[0].terms) & set(TOPICS["plus"])) >= 3
    assert all(int(i) >= 600 for i in new[0].examples)  # examples come from the current window


def test_domain_classifier_false_alarms_near_the_nominal_rate() -> None:
    rng = random.Random(7)
    alarms, runs = 0, 30
    for i in range(runs):
        texts = _texts(rng, 300, BASE)
        result = domain_classifier(tfidf_space(texts), np.r_[np.zeros(150), np.ones(150)], permutations=99, seed=i)
        alarms += result.p_value is not None and result.p_value < 0.05
    assert alarms <= 5  # expected 1.5 at 5 %; P(>5) < 1 % for a valid test


def test_drift_is_found_at_the_injected_shift_of_a_stream_and_nowhere_else() -> None:
    """Ten windows, a shift injected from window 6 on: each window against the one before it."""
    rng = random.Random(8)
    nrng = np.random.default_rng(8)
    windows = []
    for t in range(10):
        shifted = t >= 6
        windows.append((_texts(rng, 200, SHIFTED if shifted else BASE),
                        nrng.lognormal(5.0 + (0.5 if shifted else 0.0), 0.4, size=400)))
    found = []
    for t in range(1, 10):
        (ref_t, ref_x), (cur_t, cur_x) = windows[t - 1], windows[t]
        text = domain_classifier(tfidf_space(ref_t + cur_t), np.r_[np.zeros(200), np.ones(200)], seed=t)
        numeric_p = stats.ks_test(ref_x, cur_x)[1]
        text_p, num_p = stats.holm([text.p_value, numeric_p])
        psi = stats.psi_numeric(ref_x, cur_x)
        if (text_p < 0.05 and text.auc >= 0.55) or (num_p < 0.05 and psi >= 0.1):
            found.append(t)
    assert found == [6]


def test_topic_words_exist() -> None:
    assert "plus" in TOPICS and question(random.Random(1), "plus")
