"""Drift of a segment's traffic: the current window against a reference (the previous period or a pinned
baseline), text and features together, ranked.

Components and their tests (see analytics/stats.py and analytics/textdrift.py):
- input and output text: domain-classifier AUC with a permutation p-value; k-means clusters that grew;
- numeric (tokens in/out, latency, TTFT, cost): PSI and Kolmogorov–Smirnov;
- categorical (model mix, finish reason, tool use, status, prompt version, service, input language —
  a script/stop-word heuristic, analytics/language.py — and each score's value distribution): PSI and
  chi-squared.
Two families share α (text, features: α/2 each, Holm inside each), so the chance of any false alarm in
one comparison stays at or below α. A component drifted when its corrected p-value is below α and its
effect is material (AUC ≥ 0.55, PSI ≥ 0.1). Each component's score is its separability, 0..1: 2·AUC−1
for text, total variation distance for a feature; the drift score is the largest score among the
significant components (0 when nothing is significant), so noise in small windows does not move it.
"""

from __future__ import annotations

from typing import Any

from threadpoolctl import threadpool_limits

from analytics import drift_data as dd
from analytics import stats
from analytics.alerts.config import DriftConfig
from analytics.embeddings import embed
from analytics.language import guess_language
from analytics.segments import Segment
from analytics.window import Window

# numpy and analytics.textdrift (scikit-learn, SciPy) are imported inside the functions that compute: the
# collector imports this module for its API and alert rules, and should not load them before drift runs.

MIN_AUC = 0.55
MIN_PSI = 0.1
MIN_TEXTS = 20
SNIPPET = 240


def _text_component(name: str, ref: list[dict], cur: list[dict], field: str, cfg: DriftConfig,
                    seed: int) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    import numpy as np

    from analytics.textdrift import cluster_shifts, domain_classifier, tfidf_space, vector_space

    rows = [r for r in ref if r[field].strip()] + [r for r in cur if r[field].strip()]
    n_ref = sum(1 for r in ref if r[field].strip())
    texts = [r[field] for r in rows]
    y = np.r_[np.zeros(n_ref), np.ones(len(rows) - n_ref)]
    comp: dict[str, Any] = {"name": name, "kind": "text", "n_reference": n_ref, "n_current": len(rows) - n_ref,
                            "auc": None, "p_value": None, "score": 0.0, "permutations": 0}
    if min(n_ref, len(rows) - n_ref) < MIN_TEXTS:
        return {**comp, "note": f"fewer than {MIN_TEXTS} texts in a window"}, [], "none"
    vectors, method = embed(texts, cfg.embeddings)
    space = vector_space(vectors, cfg.dims) if vectors is not None else tfidf_space(texts, cfg.dims, seed)
    if vectors is not None:  # cluster terms still come from TF-IDF words
        words = tfidf_space(texts, 2, seed)
        space.tfidf, space.terms = words.tfidf, words.terms
    result = domain_classifier(space, y, cfg.permutations, seed=seed)
    comp.update(auc=result.auc, p_value=result.p_value, score=result.score, permutations=result.permutations)
    by_id = {f"{r['trace_id']}/{r['span_id']}": r for r in rows}
    ids = [f"{r['trace_id']}/{r['span_id']}" for r in rows]
    clusters = []
    for shift in cluster_shifts(space, y, ids, cfg.clusters, seed):
        clusters.append({
            "cluster": shift.cluster, "reference_share": shift.reference_share,
            "current_share": shift.current_share, "change": shift.change, "p_value": shift.p_value,
            "grew": shift.grew, "appeared": shift.appeared, "terms": shift.terms,
            "examples": [{"trace_id": by_id[i]["trace_id"], "span_id": by_id[i]["span_id"],
                          "text": by_id[i][field][:SNIPPET]} for i in shift.examples]})
    return comp, clusters, method


def _numeric(name: str, ref: list, cur: list) -> dict[str, Any]:
    import numpy as np

    r = np.array([v for v in ref if v is not None], dtype=float)
    c = np.array([v for v in cur if v is not None], dtype=float)
    comp: dict[str, Any] = {"name": name, "kind": "numeric", "test": "Kolmogorov-Smirnov", "n_reference": len(r),
                            "n_current": len(c), "psi": None, "p_value": None, "score": 0.0}
    if min(len(r), len(c)) < stats.MIN_SAMPLES:
        return {**comp, "note": "too few values"}
    edges = stats.quantile_edges(r)
    rc, cc = stats.bin_counts(r, edges), stats.bin_counts(c, edges)
    statistic, p = stats.ks_test(r, c)
    return {**comp, "psi": stats.psi_counts(rc, cc), "statistic": statistic, "p_value": p,
            "score": stats.tvd_counts(rc, cc), "reference_median": float(np.median(r)),
            "current_median": float(np.median(c)), "reference_mean": float(r.mean()), "current_mean": float(c.mean()),
            "bins": {"edges": edges.tolist(), "reference": (rc / rc.sum()).tolist(),
                     "current": (cc / cc.sum()).tolist()}}


def _categorical(name: str, ref: dict[str, float], cur: dict[str, float]) -> dict[str, Any]:
    n_ref, n_cur = sum(ref.values()), sum(cur.values())
    comp: dict[str, Any] = {"name": name, "kind": "categorical", "test": "chi-squared", "n_reference": int(n_ref),
                            "n_current": int(n_cur), "psi": None, "p_value": None, "score": 0.0}
    if min(n_ref, n_cur) < stats.MIN_SAMPLES:
        return {**comp, "note": "too few values"}
    names, rc, cc = stats.category_table(ref, cur)
    statistic, p = stats.chi2_test(rc, cc)
    shares = [{"value": k, "reference_share": float(a / n_ref), "current_share": float(b / n_cur)}
              for k, a, b in zip(names, rc, cc, strict=True)]
    return {**comp, "psi": stats.psi_counts(rc, cc), "statistic": statistic, "p_value": p,
            "score": stats.tvd_counts(rc, cc), "categories": shares}


def _counts(values: list) -> dict[str, float]:
    out: dict[str, float] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0.0) + 1
    return out


def _features(store: Any, project: str, ref_w: Window, cur_w: Window, seg: Segment, cfg: DriftConfig,
              ref_texts: list[dict], cur_texts: list[dict], totals: dict[str, int]) -> list[dict[str, Any]]:
    n = cfg.feature_sample
    ref = dd.feature_sample(store, project, ref_w, seg, n, totals["reference"])
    cur = dd.feature_sample(store, project, cur_w, seg, n, totals["current"])
    fixed = {"model": seg.model, "prompt": seg.prompt and ":" in seg.prompt, "service": seg.service}
    out = [_numeric(n, ref[n], cur[n]) for n in dd.NUMERIC]
    out += [_categorical(n, _counts(ref[n]), _counts(cur[n])) for n in dd.CATEGORICAL if not fixed.get(n)]
    out.append(_categorical("language", _counts([guess_language(r["input_text"]) for r in ref_texts]),
                            _counts([guess_language(r["input_text"]) for r in cur_texts])))
    ref_scores = dd.score_counts(store, project, ref_w, seg, n, totals["reference"])
    cur_scores = dd.score_counts(store, project, cur_w, seg, n, totals["current"])
    for name in sorted(set(ref_scores) | set(cur_scores)):
        out.append(_categorical(f"score:{name}", ref_scores.get(name, {}), cur_scores.get(name, {})))
    return out


def _decide(components: list[dict[str, Any]], alpha: float) -> None:
    """Holm within each family at α/2; reported p_adjusted is comparable to α directly."""
    for family in (("text",), ("numeric", "categorical")):
        members = [c for c in components if c["kind"] in family]
        for comp, p in zip(members, stats.holm([c["p_value"] for c in members]), strict=True):
            comp["p_adjusted"] = None if p is None else min(1.0, 2 * p)
            if comp["kind"] == "text":
                material = (comp.get("auc") or 0) >= MIN_AUC
            else:
                material = (comp.get("psi") or 0) >= MIN_PSI
            comp["significant"] = comp["p_adjusted"] is not None and comp["p_adjusted"] < alpha
            comp["drifted"] = comp["significant"] and material


def compute_drift(store: Any, project: str, current: Window, seg: Segment, cfg: DriftConfig,
                  reference: Window | None = None, seed: int = 0) -> dict[str, Any]:
    """The drift report of one segment: components ranked, clusters that grew, the drift score."""
    ref_w = reference or current.previous()
    totals = {"current": dd.count_calls(store, project, current, seg),
              "reference": dd.count_calls(store, project, ref_w, seg)}
    cur_texts = dd.text_sample(store, project, current, seg, cfg.text_sample, totals["current"])
    ref_texts = dd.text_sample(store, project, ref_w, seg, cfg.text_sample, totals["reference"])
    # One BLAS/OpenMP thread: the matrices are small, and a busy host makes many threads far slower.
    with threadpool_limits(limits=1):
        components, clusters, methods = [], {}, set()
        for name, field in (("input_text", "input_text"), ("output_text", "output_text")):
            comp, shifts, method = _text_component(name, ref_texts, cur_texts, field, cfg, seed)
            components.append(comp)
            clusters[name.split("_")[0]] = shifts
            methods.add(method)
    components += _features(store, project, ref_w, current, seg, cfg, ref_texts, cur_texts, totals)
    _decide(components, cfg.alpha)
    components.sort(key=lambda c: (not c.get("drifted"), not c.get("significant"), -c["score"]))
    significant = [c["score"] for c in components if c.get("significant")]
    psis = [c["psi"] for c in components if c.get("psi") is not None]
    by_name = {c["name"]: c for c in components}
    return {
        "project": project, "segment": seg.as_dict(),
        "current": {"start": current.start, "end": current.end, "calls": totals["current"],
                    "text_sample": len(cur_texts)},
        "reference": {"start": ref_w.start, "end": ref_w.end, "calls": totals["reference"],
                      "text_sample": len(ref_texts), "kind": "previous" if reference is None else "baseline"},
        "score": max(significant, default=0.0), "drifted": any(c.get("drifted") for c in components),
        "input_auc": by_name["input_text"]["auc"], "output_auc": by_name["output_text"]["auc"],
        "max_psi": max(psis, default=None), "alpha": cfg.alpha,
        "components": components, "clusters": clusters,
        "method": {"vectors": " / ".join(sorted(m for m in methods if m != "none")) or "none",
                   "text_sample": cfg.text_sample, "feature_sample": cfg.feature_sample,
                   "permutations": cfg.permutations, "clusters": cfg.clusters, "dims": cfg.dims,
                   "language": "script + stop-word heuristic (en es fr de pt it nl; und = unknown)"},
    }


def drift_report(store: Any, project: str, current: Window, seg: Segment, cfg: DriftConfig,
                 reference: str = "previous", save: bool = True) -> dict[str, Any]:
    """compute_drift with the reference resolved ("previous" or the pinned "baseline"), stored for the trend."""
    ref_w = None
    if reference == "baseline":
        pinned = dd.get_baseline(store, project, seg)
        if pinned is None:
            raise LookupError(f"no baseline pinned for {seg.describe()}")
        ref_w = pinned.window
    result = compute_drift(store, project, current, seg, cfg, ref_w)
    if save:
        dd.save_run(store, project, seg, reference, "full", result)
    return result


TREND_TEXT_SAMPLE = 500


def drift_trend(store: Any, project: str, seg: Segment, cfg: DriftConfig, end: Any, points: int = 14,
                step: Any = None, reference: str = "previous") -> list[dict[str, Any]]:
    """The drift score per step (default: day) against the step before (or the baseline).

    Points already computed are read back from `drift_runs`; missing ones are computed with a lighter
    configuration (500 texts per window instead of the full sample: with few texts the permutations are
    cheap) and stored, so the trend costs its full price once.
    """
    from datetime import timedelta

    step = step or timedelta(days=1)
    ends = [end - step * i for i in range(points)][::-1]
    light = cfg.model_copy(update={"text_sample": min(cfg.text_sample, TREND_TEXT_SAMPLE)})
    config_key = f"trend:{int(step.total_seconds())}"
    known = dd.get_runs(store, project, seg, reference, config_key, ends)
    pinned = dd.get_baseline(store, project, seg) if reference == "baseline" else None
    if reference == "baseline" and pinned is None:
        raise LookupError(f"no baseline pinned for {seg.describe()}")
    out = []
    for point_end in ends:
        row = known.get(point_end)
        if row is None:
            w = Window(point_end - step, point_end)
            result = compute_drift(store, project, w, seg, light, pinned.window if pinned else None)
            dd.save_run(store, project, seg, reference, config_key, result)
            row = {"window_start": w.start, "window_end": w.end, "score": result["score"],
                   "drifted": int(result["drifted"]), "input_auc": result["input_auc"],
                   "output_auc": result["output_auc"], "max_psi": result["max_psi"],
                   "top_feature": next((c["name"] for c in result["components"] if c.get("drifted")), ""),
                   "spans": result["current"]["calls"]}
        row.pop("computed_at", None)
        out.append({**row, "drifted": bool(row["drifted"])})
    return out
