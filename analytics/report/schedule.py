"""Building the report (one entry point for the API and the scheduler) and sending it on a schedule."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics.alerts import channels as ch
from analytics.alerts import history as h
from analytics.alerts.config import ReportSchedule
from analytics.report.data import build_report_data, last_full_week, week_window
from analytics.report.html import render_html
from analytics.report.markdown import render_markdown

_CACHE: dict[tuple[int, str, str], tuple[float, dict[str, Any]]] = {}
CACHE_S = 120.0  # the HTML and the Markdown of one report are usually asked for together


def report_data(store: Any, settings: Any, project: str, week: str) -> dict[str, Any]:
    key = (id(store), project, week)
    hit = _CACHE.get(key)
    if hit and time.monotonic() - hit[0] < CACHE_S:
        return hit[1]
    data = build_report_data(store, settings, project, week)
    for old in [k for k, (t, _) in _CACHE.items() if time.monotonic() - t >= CACHE_S]:
        _CACHE.pop(old, None)
    _CACHE[key] = (time.monotonic(), data)
    return data


def build_report(store: Any, settings: Any, project: str, week: str, fmt: str = "html") -> tuple[str, str]:
    """(body, media type) of the weekly report in html, md or json."""
    data = report_data(store, settings, project, week)
    if fmt == "md":
        return render_markdown(data), "text/markdown; charset=utf-8"
    if fmt == "json":
        return json.dumps(data, default=str, sort_keys=True), "application/json"
    return render_html(data), "text/html; charset=utf-8"


def report_filename(project: str, week: str, ext: str) -> str:
    return f"loupe-report-{project}-{week}.{ext}"


def send_due_report(scheduler: Any, schedule: ReportSchedule, now: datetime) -> h.AlertEvent | None:
    """Send last week's report once, after this week's (weekday, hour) has passed."""
    monday = datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=now.weekday())
    due = monday + timedelta(days=schedule.weekday, hours=schedule.hour)
    if now < due:
        return None
    week = last_full_week(now)
    w = week_window(week)
    store = scheduler.store
    ident = h.event_id(schedule.project, "weekly-report", "report", w.start)
    existing = h.get_event(store, schedule.project, ident)
    if existing is not None and (existing["delivery"] == "sent" or existing["attempts"] >= 3):
        return None
    data = build_report_data(store, scheduler.settings, schedule.project, week)
    html, md = render_html(data), render_markdown(data)
    event = h.AlertEvent(schedule.project, ident, "weekly-report", "report", "ok", "info", w.start, w.end, None,
                         None, f"Weekly quality report {week}", md[:3000], data["links"]["overview"],
                         list(schedule.channels), attempts=(existing or {}).get("attempts", 0))
    names = ch.owed(existing["delivery"], list(schedule.channels)) if existing else list(schedule.channels)
    h.save_event(store, event)
    event.attempts += 1
    event.delivery = ch.deliver(scheduler.cfg.channels, names, event, (report_filename(schedule.project, week,
                                                                                       "html"), html))
    h.save_event(store, event)
    return event
