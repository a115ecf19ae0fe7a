"""Analytics benchmark: drift and regressions over 1 million spans in the window, and the weekly report
over a week of 10 million spans, on the embedded store in its own data directory.

Traffic is fabricated inside ClickHouse (analytics/benchdata.py): each trace a request root and one LLM
call; judges' verdicts (groundedness, pii_output) on 20 % of the calls. The drift window's day has a
new topic, longer outputs and some Spanish against the day before; prompt v2 is worse on groundedness.
The report's week and the week before it hold the same volume. Figures are wall-clock seconds of the
analytics functions the API calls (no HTTP), each run once after seeding.

    .venv/bin/python bench/analytics.py                       # 1M + 10M spans into /tmp/loupe-bench-analytics
    .venv/bin/python bench/analytics.py --reuse               # measure again on the seeded directory
    .venv/bin/python bench/analytics.py --report-spans 2000000   # a smaller report week
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from analytics import regressions  # noqa: E402
from analytics.alerts.config import DriftConfig  # noqa: E402
from analytics.benchdata import fabricate_scores, fabricate_traffic  # noqa: E402
from analytics.drift import compute_drift  # noqa: E402
from analytics.report.data import build_report_data, last_full_week, week_window  # noqa: E402
from analytics.report.html import render_html  # noqa: E402
from analytics.report.markdown import render_markdown  # noqa: E402
from analytics.segments import ALL_TRAFFIC  # noqa: E402
from analytics.window import Window  # noqa: E402
from collector.settings import Settings  # noqa: E402
from store.client import open_store  # noqa: E402

SCORE_PCT = 20


def _timed(label: str, fn, figures: dict) -> object:
    t0 = time.perf_counter()
    out = fn()
    figures[label] = round(time.perf_counter() - t0, 2)
    print(f"  {label:<48} {figures[label]:>7.2f} s", flush=True)
    return out


def _count(store, project: str) -> int:
    return int(store.query_rows("SELECT count() FROM spans WHERE project = {p:String}", {"p": project})[0][0])


def seed(store, drift_spans: int, report_spans: int, day_end: datetime, week: str, figures: dict) -> None:
    day, w = timedelta(days=1), week_window(week)
    print(f"seeding {drift_spans:,} spans per drift window and {report_spans:,} per report week…", flush=True)
    _timed("seed: drift reference day", lambda: fabricate_traffic(
        store, "drift", day_end - 2 * day, day_end - day, drift_spans // 2, "v1", False, 1), figures)
    _timed("seed: drift current day", lambda: fabricate_traffic(
        store, "drift", day_end - day, day_end, drift_spans // 2, "v2", True, 2), figures)
    fabricate_scores(store, "drift", day_end - 2 * day, day_end, SCORE_PCT)
    _timed("seed: report previous week", lambda: fabricate_traffic(
        store, "report", w.start - 7 * day, w.start, report_spans // 2, "v1", False, 3), figures)
    _timed("seed: report week", lambda: fabricate_traffic(
        store, "report", w.start, w.end, report_spans // 2, "v2", True, 4), figures)
    _timed("seed: report scores", lambda: fabricate_scores(store, "report", w.start - 7 * day, w.end, SCORE_PCT),
           figures)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="/tmp/loupe-bench-analytics")
    ap.add_argument("--drift-spans", type=int, default=1_000_000, help="spans in the drift window (and its reference)")
    ap.add_argument("--report-spans", type=int, default=10_000_000, help="spans in the report week (and the previous)")
    ap.add_argument("--reuse", action="store_true", help="measure on an already seeded directory")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()

    store = open_store(f"chdb://{Path(args.data_dir).resolve()}", retention_days=60)
    now = datetime.now(UTC)
    day_end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week = last_full_week(now)
    figures: dict = {"drift_spans": args.drift_spans, "report_spans": args.report_spans, "week": week}
    if not args.reuse or not _count(store, "report"):
        seed(store, args.drift_spans, args.report_spans, day_end, week, figures)
    figures["stored_spans"] = {p: _count(store, p) for p in ("drift", "report")}
    print(f"stored: {figures['stored_spans']}", flush=True)

    current = Window(day_end - timedelta(days=1), day_end)
    print(f"drift and regressions over {figures['stored_spans']['drift'] // 2:,} spans per day:", flush=True)
    result = _timed("drift (text 2,000/window, features 20,000, 99 perms)",
                    lambda: compute_drift(store, "drift", current, ALL_TRAFFIC, DriftConfig()), figures)
    figures["drift_result"] = {"score": result["score"], "drifted": [c["name"] for c in result["components"]
                                                                      if c.get("drifted")]}
    _timed("regressions: day vs day before, every evaluator",
           lambda: regressions.compare_periods(store, "drift", current), figures)
    _timed("regressions: prompt v1 vs v2 (2 days)", lambda: regressions.compare_groups(
        store, "drift", Window(current.start - timedelta(days=1), current.end), "prompt_version",
        "support_answer:v1", "support_answer:v2"), figures)
    _timed("prompt regression rate (2 days)", lambda: regressions.prompt_regression_rate(
        store, "drift", Window(current.start - timedelta(days=1), current.end)), figures)

    print(f"weekly report {week} over {figures['stored_spans']['report'] // 2:,} spans per week:", flush=True)
    settings = Settings(dsn="chdb:///unused")
    data = _timed("report data (all sections)", lambda: build_report_data(store, settings, "report", week), figures)
    html = _timed("render HTML", lambda: render_html(data), figures)
    _timed("render Markdown", lambda: render_markdown(data), figures)
    figures["report_total_s"] = round(sum(figures[k] for k in ("report data (all sections)", "render HTML",
                                                                "render Markdown")), 2)
    figures["report_html_bytes"] = len(html)
    print(f"  {'report total':<48} {figures['report_total_s']:>7.2f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
