"""Trends API: drift, safety, regressions and the weekly report. A `read` key sees its own project only;
pinning a drift baseline needs `admin`. The SQL and statistics live in analytics/.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from analytics import drift, regressions, safety
from analytics import drift_data as dd
from analytics.alerts.config import load_alerts
from analytics.report.schedule import build_report, report_filename
from analytics.segments import Segment
from analytics.window import Window, pick_bucket, window
from collector.api import AdminKey, ReadKey, _state

Start = Annotated[datetime | None, Query(description="window start (default: end minus 7 days)")]
End = Annotated[datetime | None, Query(description="window end (default: now)")]
By = Literal["prompt_version", "model", "release", "service", "environment"]


def segment_q(service: str | None = None, model: str | None = None,
              prompt: Annotated[str | None, Query(description="prompt name or name:version")] = None,
              environment: str | None = None) -> Segment:
    return Segment(service or None, model or None, prompt or None, environment or None)


Seg = Annotated[Segment, Depends(segment_q)]


def _week_window(start: datetime | None, end: datetime | None) -> Window:
    try:
        return window(start, end, timedelta(days=7))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def _drift_cfg(request: Request) -> Any:
    try:
        return load_alerts(_state(request).settings.alerts).drift
    except ValueError as exc:
        raise HTTPException(500, f"invalid alerts configuration: {exc}") from None


class BaselineIn(BaseModel):
    segment: dict[str, str] = Field(default_factory=dict)
    start: datetime
    end: datetime
    note: str = Field(default="", max_length=500)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["trends"])

    @router.get("/drift", summary="Drift of a segment: current window vs the previous one or the pinned baseline")
    def get_drift(request: Request, key: ReadKey, seg: Seg, start: Start = None, end: End = None,
                  reference: Literal["previous", "baseline"] = "previous") -> dict[str, Any]:
        w = _week_window(start, end)
        try:
            return drift.drift_report(_state(request).store, key.project, w, seg, _drift_cfg(request), reference)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from None

    @router.get("/drift/trend", summary="The drift score per day (or hour) against the step before")
    def get_drift_trend(request: Request, key: ReadKey, seg: Seg, end: End = None,
                        points: Annotated[int, Query(ge=2, le=60)] = 14, step: Literal["day", "hour"] = "day",
                        reference: Literal["previous", "baseline"] = "previous") -> dict[str, Any]:
        w = _week_window(None, end)
        size = timedelta(days=1) if step == "day" else timedelta(hours=1)
        last = datetime.fromtimestamp(w.end.timestamp() // size.total_seconds() * size.total_seconds(), w.end.tzinfo)
        try:
            data = drift.drift_trend(_state(request).store, key.project, seg, _drift_cfg(request), last, points,
                                     size, reference)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from None
        return {"segment": seg.as_dict(), "step": step, "reference": reference, "data": data}

    @router.get("/drift/baselines", summary="Pinned reference windows")
    def get_baselines(request: Request, key: ReadKey) -> dict[str, Any]:
        rows = dd.list_baselines(_state(request).store, key.project)
        return {"data": [{**r, "segment": Segment.from_key(r["segment"]).as_dict()} for r in rows]}

    @router.put("/drift/baseline", summary="Pin a reference window for a segment (admin)")
    @router.post("/drift/baseline", summary="Pin a reference window for a segment (admin; same as PUT)")
    def put_baseline(request: Request, key: AdminKey, body: BaselineIn) -> dict[str, Any]:
        try:
            seg = Segment.from_dict(body.segment)
            w = window(body.start, body.end)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        dd.set_baseline(_state(request).store, key.project, seg, w, body.note, key.name)
        return {"segment": seg.as_dict(), "start": w.start, "end": w.end, "note": body.note}

    @router.delete("/drift/baseline", summary="Un-pin a segment's baseline (admin)")
    @router.post("/drift/baseline/unpin", summary="Un-pin a segment's baseline (admin; same as DELETE)")
    def delete_baseline(request: Request, key: AdminKey, seg: Seg) -> dict[str, Any]:
        store = _state(request).store
        pinned = dd.get_baseline(store, key.project, seg)
        if pinned is None:
            raise HTTPException(404, f"no baseline pinned for {seg.describe()}")
        dd.set_baseline(store, key.project, seg, pinned.window, pinned.note, key.name, deleted=True)
        return {"deleted": seg.as_dict()}

    @router.get("/safety/summary", summary="Safety incident rates per category, this window and the one before")
    def get_safety_summary(request: Request, key: ReadKey, seg: Seg, start: Start = None,
                           end: End = None) -> dict[str, Any]:
        return safety.safety_summary(_state(request).store, key.project, _week_window(start, end), seg)

    @router.get("/safety/series", summary="Safety incident rate over time, optionally by segment")
    def get_safety_series(request: Request, key: ReadKey, seg: Seg, start: Start = None, end: End = None,
                          bucket: Literal["auto", "hour", "day", "week"] = "auto", by: By | None = None) -> dict:
        w = _week_window(start, end)
        b = pick_bucket(w, bucket)
        b = "hour" if b == "minute" else b
        return {"start": w.start, "end": w.end, "bucket": b, "by": by,
                "data": safety.safety_series(_state(request).store, key.project, w, b, seg, by)}

    @router.get("/safety/segments", summary="Safety incident rate by service, model, prompt version…")
    def get_safety_segments(request: Request, key: ReadKey, seg: Seg, by: By = "service", start: Start = None,
                            end: End = None) -> dict[str, Any]:
        w = _week_window(start, end)
        return {"by": by, "data": safety.safety_by_segment(_state(request).store, key.project, w, by, seg)}

    @router.get("/safety/incidents", summary="Incidents, newest first, with their traces and rationales")
    def get_incidents(request: Request, key: ReadKey, seg: Seg, start: Start = None, end: End = None,
                      category: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                      offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
        try:
            rows, total = safety.list_incidents(_state(request).store, key.project, _week_window(start, end), seg,
                                                category, limit, offset)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return {"data": rows, "total": total, "next_offset": offset + limit if offset + limit < total else None}

    @router.get("/regressions/groups", summary="Prompt versions, models or releases seen, with their traffic")
    def get_groups(request: Request, key: ReadKey, seg: Seg, by: By = "prompt_version", start: Start = None,
                   end: End = None) -> dict[str, Any]:
        w = _week_window(start, end)
        return {"by": by, "data": regressions.list_groups(_state(request).store, key.project, w, by, seg)}

    @router.get("/regressions/compare", summary="Every evaluator for group B against group A")
    def get_compare(request: Request, key: ReadKey, seg: Seg, a: str, b: str, by: By = "prompt_version",
                    start: Start = None, end: End = None, correction: Literal["holm", "bh"] = "holm",
                    alpha: Annotated[float, Query(gt=0, lt=0.5)] = 0.05,
                    min_samples: Annotated[int, Query(ge=2, le=100_000)] = 30) -> dict[str, Any]:
        w = _week_window(start, end)
        return regressions.compare_groups(_state(request).store, key.project, w, by, a, b, seg, correction, alpha,
                                          min_samples)

    @router.get("/regressions/periods", summary="Every evaluator, this window against the one before")
    def get_periods(request: Request, key: ReadKey, seg: Seg, start: Start = None, end: End = None,
                    correction: Literal["holm", "bh"] = "holm",
                    min_samples: Annotated[int, Query(ge=2, le=100_000)] = 30) -> dict[str, Any]:
        w = _week_window(start, end)
        return regressions.compare_periods(_state(request).store, key.project, w, seg, correction,
                                           min_samples=min_samples)

    @router.get("/regressions/versions", summary="Each prompt version (or release) against its predecessor")
    def get_versions(request: Request, key: ReadKey, seg: Seg, by: Literal["prompt_version", "release"] =
                     "prompt_version", start: Start = None, end: End = None) -> dict[str, Any]:
        w = _week_window(start, end)
        store = _state(request).store
        pairs = regressions.release_regressions(store, key.project, w, by, seg)
        out: dict[str, Any] = {"by": by, "start": w.start, "end": w.end, "data": pairs}
        if by == "prompt_version" and not seg.as_dict():
            rate, tested, _ = regressions.prompt_regression_rate(store, key.project, w)
            out["prompt_regression_rate"] = {"value": rate, "tested": tested}
        return out

    @router.get("/reports/weekly", summary="The weekly quality report (html, md or json)",
                responses={200: {"content": {"text/html": {}, "text/markdown": {}, "application/json": {}}}})
    def get_weekly(request: Request, key: ReadKey,
                   week: Annotated[str, Query(pattern=r"^\d{4}-W\d{2}$", description="ISO week, e.g. 2026-W48")],
                   format: Literal["html", "md", "json"] = "html", project: str | None = None) -> Response:
        if project and project != key.project:
            raise HTTPException(403, f"this key belongs to project '{key.project}', not '{project}'")
        state = _state(request)
        try:
            body, media = build_report(state.store, state.settings, key.project, week, format)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        name = report_filename(key.project, week, format)
        return Response(body, media_type=media, headers={"Content-Disposition": f'inline; filename="{name}"'})

    return router
