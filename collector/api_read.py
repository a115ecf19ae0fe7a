"""The dashboard's read API: series, measures, quality, sessions, users, slow/worst traces, export.

Every endpoint needs a `read` key and sees only that key's project. The SQL lives in analytics/.
Registered before collector/api.py's router so `/api/traces/slowest` is not taken for a trace id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from analytics import explore, measures, quality, series, sessions
from analytics import traces as tq
from analytics.window import pick_bucket, window
from collector.api import PageOut, ReadKey, _state
from store.client import Store

BucketQ = Annotated[Literal["auto", "minute", "hour", "day", "week"], Query(description="time bucket")]
Start = Annotated[datetime | None, Query(description="window start (default: end minus 30 days, 7 for lists)")]
End = Annotated[datetime | None, Query(description="window end (default: now)")]


def _store(request: Request) -> Store:
    return _state(request).store


def _bad(exc: ValueError) -> HTTPException:
    return HTTPException(400, str(exc))


def trace_filter(
    start: Start = None, end: End = None, service: str | None = None, environment: str | None = None,
    model: str | None = None, status: Literal["ok", "error"] | None = None, session_id: str | None = None,
    user_id: str | None = None, tag: Annotated[list[str] | None, Query()] = None, prompt_name: str | None = None,
    prompt_version: str | None = None, q: Annotated[str | None, Query(max_length=500)] = None,
    kind: str | None = None, score: Annotated[list[str] | None, Query(description="e.g. groundedness<0.5")] = None,
) -> tq.TraceFilter:
    """The same filters as GET /api/traces, for endpoints that act on a trace search."""
    try:
        conditions = [tq.ScoreCondition.parse(s) for s in score or []]
    except ValueError as exc:
        raise _bad(exc) from None
    return tq.TraceFilter(start=start, end=end, service=service, environment=environment, model=model,
                          status=status, session_id=session_id, user_id=user_id, tags=tag or [],
                          prompt_name=prompt_name, prompt_version=prompt_version, q=q, kind=kind, scores=conditions)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["read"])

    @router.get("/series", summary="Volume, errors, cost, tokens, latency and TTFT over time")
    def get_series(
        request: Request, key: ReadKey, start: Start = None, end: End = None, bucket: BucketQ = "auto",
        breakdown: Literal["model", "provider", "service", "kind", "prompt_version", "environment", "user"] | None
        = None, service: str | None = None, environment: str | None = None, kind: str | None = None,
        model: str | None = None, provider: str | None = None, prompt_name: str | None = None,
        prompt_version: str | None = None,
        root: Annotated[bool | None, Query(description="true: request roots only (request latency)")] = None,
        top: Annotated[int, Query(ge=1, le=50)] = 10,
        rank_by: Literal["spans", "cost_usd"] = "spans",
    ) -> dict[str, Any]:
        try:
            w = window(start, end)
            sel = series.SpanSelect(service, environment, kind, model, provider, prompt_name, prompt_version, root)
            out = series.span_series(_store(request), key.project, w, pick_bucket(w, bucket), sel, breakdown,
                                     top, rank_by)
        except ValueError as exc:
            raise _bad(exc) from None
        return {"start": w.start, "end": w.end, **out}

    @router.get("/scores/series", summary="Score averages per evaluator over time, optionally by segment")
    def get_score_series(
        request: Request, key: ReadKey, start: Start = None, end: End = None, bucket: BucketQ = "auto",
        name: Annotated[list[str] | None, Query(description="evaluator / score names")] = None,
        source: str | None = None,
        breakdown: Literal["model", "prompt_version", "service", "environment", "user"] | None = None,
    ) -> dict[str, Any]:
        try:
            w = window(start, end)
            out = quality.score_series(_store(request), key.project, w, pick_bucket(w, bucket), name, source,
                                       breakdown)
        except ValueError as exc:
            raise _bad(exc) from None
        return {"start": w.start, "end": w.end, **out}

    @router.get("/scores/summary", summary="Per evaluator: count, mean, value distribution and labels")
    def get_score_summary(request: Request, key: ReadKey, start: Start = None, end: End = None,
                          name: Annotated[list[str] | None, Query()] = None,
                          source: str | None = None) -> dict[str, Any]:
        try:
            w = window(start, end)
        except ValueError as exc:
            raise _bad(exc) from None
        return {"start": w.start, "end": w.end,
                "data": quality.score_summary(_store(request), key.project, w, name, source)}

    @router.get("/quality/segments", summary="Mean score per evaluator by model, prompt version, service…")
    def get_segments(request: Request, key: ReadKey,
                     by: Literal["model", "prompt_version", "service", "environment", "user"] = "model",
                     start: Start = None, end: End = None, name: Annotated[list[str] | None, Query()] = None,
                     source: str | None = None) -> dict[str, Any]:
        try:
            w = window(start, end)
            data = quality.quality_by_segment(_store(request), key.project, w, by, name, source)
        except ValueError as exc:
            raise _bad(exc) from None
        return {"start": w.start, "end": w.end, "by": by, "data": data}

    @router.get("/measures", summary="The success measures, with the previous window for comparison")
    def get_measures(request: Request, key: ReadKey, end: End = None,
                     days: Annotated[int, Query(ge=1, le=90, description="window length")] = 7) -> dict[str, Any]:
        from datetime import timedelta

        try:
            w = window(None, end, timedelta(days=days))
        except ValueError as exc:
            raise _bad(exc) from None
        return measures.success_measures(_store(request), key.project, w)

    @router.get("/sessions", response_model=PageOut, response_model_exclude_unset=True,
                summary="Sessions (conversations), most recent first")
    def get_sessions(request: Request, key: ReadKey, start: Start = None, end: End = None,
                     user_id: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                     cursor: str | None = None) -> PageOut:
        try:
            page = sessions.list_sessions(_store(request), key.project, _list_window(start, end), user_id, limit,
                                          cursor)
        except ValueError as exc:
            raise _bad(exc) from None
        return PageOut(data=page.data, total=page.total, next_cursor=page.next_cursor)

    @router.get("/sessions/{session_id}", summary="One session: its traces in order, totals and scores")
    def get_session(request: Request, key: ReadKey, session_id: str, start: Start = None,
                    end: End = None) -> dict[str, Any]:
        try:
            found = sessions.get_session(_store(request), key.project, session_id, window(start, end))
        except ValueError as exc:
            raise _bad(exc) from None
        if found is None:
            raise HTTPException(404, f"session {session_id} not found in project {key.project}")
        return found

    @router.get("/users", response_model=PageOut, response_model_exclude_unset=True,
                summary="End users: traces, cost, last seen, feedback")
    def get_users(request: Request, key: ReadKey, start: Start = None, end: End = None,
                  sort: Literal["cost", "traces", "last_seen", "errors"] = "cost",
                  q: Annotated[str | None, Query(max_length=200)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None) -> PageOut:
        try:
            offset = _offset(cursor)
            rows, total = sessions.list_users(_store(request), key.project, _list_window(start, end), sort, q,
                                              limit, offset)
        except ValueError as exc:
            raise _bad(exc) from None
        more = offset + len(rows) < total
        return PageOut(data=rows, total=total, next_cursor=str(offset + limit) if more else None)

    @router.get("/models/unpriced", summary="Models whose calls had no known price")
    def get_unpriced(request: Request, key: ReadKey, start: Start = None, end: End = None) -> dict[str, Any]:
        try:
            w = window(start, end)
        except ValueError as exc:
            raise _bad(exc) from None
        return {"data": series.unpriced_models(_store(request), key.project, w)}

    @router.get("/facets", summary="Values seen in the window, for filter pickers")
    def get_facets(request: Request, key: ReadKey, start: Start = None, end: End = None) -> dict[str, Any]:
        try:
            w = window(start, end)
        except ValueError as exc:
            raise _bad(exc) from None
        return explore.facets(_store(request), key.project, w)

    @router.get("/traces/slowest", summary="Requests with the longest root span, slowest first")
    def get_slowest(request: Request, key: ReadKey, start: Start = None, end: End = None,
                    service: str | None = None, environment: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=200)] = 20) -> dict[str, Any]:
        try:
            w = _list_window(start, end)
        except ValueError as exc:
            raise _bad(exc) from None
        return {"data": explore.slowest_traces(_store(request), key.project, w, service, environment, limit)}

    @router.get("/traces/worst", summary="Traces that scored worst on one evaluator, with rationales")
    def get_worst(request: Request, key: ReadKey, evaluator: str, start: Start = None, end: End = None,
                  source: str | None = None, higher_is_better: bool | None = None,
                  limit: Annotated[int, Query(ge=1, le=200)] = 20) -> dict[str, Any]:
        store = _store(request)
        try:
            w = _list_window(start, end)
        except ValueError as exc:
            raise _bad(exc) from None
        worst = quality.worst_scores(store, key.project, w, evaluator, limit, higher_is_better, source)
        if not worst:
            return {"evaluator": evaluator, "data": []}
        page = tq.list_traces(store, key.project, tq.TraceFilter(start=w.start, end=w.end,
                                                                 trace_ids=[r["trace_id"] for r in worst]), limit)
        by_id = {t["trace_id"]: t for t in page.data}
        data = [{**by_id[r["trace_id"]], "score": r} for r in worst if r["trace_id"] in by_id]
        return {"evaluator": evaluator, "data": data}

    @router.get("/traces/export", summary="Export a trace search as JSON Lines or CSV (streamed)",
                response_class=StreamingResponse,
                responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}})
    def export_traces(request: Request, key: ReadKey, f: Annotated[tq.TraceFilter, Depends(trace_filter)],
                      format: Literal["jsonl", "csv"] = "jsonl",
                      sort: Literal["newest", "oldest", "duration", "cost", "tokens", "errors"] = "newest",
                      max_rows: Annotated[int, Query(ge=1, le=1_000_000)] = 100_000) -> StreamingResponse:
        store = _store(request)
        rows = explore.iter_traces(store, key.project, f, sort, max_rows)
        try:
            first = next(rows, None)  # errors in the filters surface as a 400, not a broken stream
        except ValueError as exc:
            raise _bad(exc) from None

        def chained():
            if first is not None:
                yield first
                yield from rows

        media = "application/x-ndjson" if format == "jsonl" else "text/csv"
        return StreamingResponse(explore.export_lines(chained(), format), media_type=media, headers={
            "Content-Disposition": f'attachment; filename="traces-{key.project}.{format}"'})

    return router


def _list_window(start: datetime | None, end: datetime | None):
    from datetime import timedelta

    return window(start, end, timedelta(days=7))


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not cursor.isdigit():
        raise ValueError("invalid cursor")
    return int(cursor)
