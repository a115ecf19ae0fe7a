"""Read API (first slice), scores, keys and deletion. Auth sits on each router, never per endpoint."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field, field_validator

from analytics import traces as q
from collector.normalize import messages_from_log_body
from store.deletion import delete_traces, delete_user
from store.keys import SCOPES, ApiKey
from store.rows import ScoreRow
from store.scores import insert_scores
from store.stats import table_sizes

_JSON_FIELDS = ("input", "output", "documents", "tool_calls", "events", "model_parameters", "prompt_variables")


def _state(request: Request) -> Any:
    return request.app.state.loupe


def require(scope: str):
    def dependency(request: Request) -> ApiKey:
        return _state(request).auth.authenticate(request, scope)

    return Depends(dependency)


ReadKey = Annotated[ApiKey, require("read")]
IngestKey = Annotated[ApiKey, require("ingest")]
AdminKey = Annotated[ApiKey, require("admin")]


def _json_or_text(value: str) -> Any:
    if not value:
        return None
    if value[0] in "[{\"":
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def _span_out(span: dict[str, Any]) -> dict[str, Any]:
    for name in _JSON_FIELDS:
        if name in span:
            span[name] = _json_or_text(span[name])
    return span


def _attach_log_content(spans: list[dict[str, Any]], logs: list[dict[str, Any]]) -> None:
    """Content that arrived as OTLP log records joins its span here, at read time."""
    by_span: dict[str, list[dict[str, Any]]] = {}
    for record in logs:
        by_span.setdefault(record["span_id"], []).append(record)
    for span in spans:
        records = by_span.get(span["span_id"], [])
        span["log_events"] = [
            {"time": r["time"], "event_name": r["event_name"], "body": _json_or_text(r["body"])} for r in records
        ]
        if records and (not span.get("input") or not span.get("output")):
            inputs, outputs = messages_from_log_body([(r["event_name"], _json_or_text(r["body"])) for r in records])
            if not span.get("input") and inputs:
                span["input"] = inputs
            if not span.get("output") and outputs:
                span["output"] = outputs


def _depths(spans: list[dict[str, Any]]) -> None:
    parents = {s["span_id"]: s["parent_span_id"] for s in spans}
    for span in spans:
        depth, parent, seen = 0, span["parent_span_id"], set()
        while parent in parents and parent not in seen:
            seen.add(parent)
            depth += 1
            parent = parents[parent]
        span["depth"] = depth


class PageOut(BaseModel):
    data: list[dict[str, Any]]
    total: int
    next_cursor: str | None = None
    total_exact: bool = True  # sent (as false) only when `total` is an estimate: very large unfiltered searches


class ScoreIn(BaseModel):
    target_type: Literal["span", "trace", "session"] = "trace"
    target_id: str = Field(min_length=1, max_length=256)
    trace_id: str | None = Field(default=None, max_length=64)
    name: str = Field(min_length=1, max_length=128)
    value: float | None = None
    label: str = Field(default="", max_length=256)
    comment: str = Field(default="", max_length=10_000)
    source: Literal["user_feedback", "sdk", "human"] = "user_feedback"
    author: str = Field(default="", max_length=256)

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and (v != v or v in (float("inf"), float("-inf"))):
            raise ValueError("value must be a finite number")
        return v


class KeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    scopes: list[Literal["ingest", "read", "review", "admin"]] = Field(min_length=1)
    project: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")


def _key_out(key: ApiKey) -> dict[str, Any]:
    return {"key_id": key.key_id, "project": key.project, "name": key.name, "prefix": key.prefix,
            "scopes": list(key.scopes), "created_at": key.created_at, "revoked_at": key.revoked_at}


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api")

    @router.get("/traces", response_model=PageOut, response_model_exclude_unset=True, tags=["read"],
                summary="Search traces")
    def list_traces(
        request: Request, key: ReadKey,
        start: datetime | None = None, end: datetime | None = None, service: str | None = None,
        environment: str | None = None, model: str | None = None,
        status: Literal["ok", "error"] | None = None, session_id: str | None = None,
        user_id: str | None = None, tag: Annotated[list[str] | None, Query()] = None,
        prompt_name: str | None = None, prompt_version: str | None = None,
        q_: Annotated[str | None, Query(alias="q", max_length=500)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None,
        kind: str | None = None,
        score: Annotated[list[str] | None, Query(description="e.g. groundedness<0.5 (repeat: all hold)")] = None,
        sort: Literal["newest", "oldest", "duration", "cost", "tokens", "errors"] = "newest",
    ) -> PageOut:
        try:
            f = q.TraceFilter(start=start, end=end, service=service, environment=environment, model=model,
                              status=status, session_id=session_id, user_id=user_id, tags=tag or [],
                              prompt_name=prompt_name, prompt_version=prompt_version, q=q_, kind=kind,
                              scores=[q.ScoreCondition.parse(s) for s in score or []])
            page = q.list_traces(_state(request).store, key.project, f, limit, cursor, sort=sort)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        estimate = {} if page.total_exact else {"total_exact": False}
        return PageOut(data=page.data, total=page.total, next_cursor=page.next_cursor, **estimate)

    @router.get("/spans", response_model=PageOut, tags=["read"], summary="Search spans")
    def list_spans(
        request: Request, key: ReadKey,
        start: datetime | None = None, end: datetime | None = None, trace_id: str | None = None,
        kind: str | None = None, service: str | None = None, model: str | None = None,
        status: Literal["ok", "error"] | None = None, session_id: str | None = None,
        user_id: str | None = None, q_: Annotated[str | None, Query(alias="q", max_length=500)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None,
    ) -> PageOut:
        f = q.SpanFilter(start=start, end=end, trace_id=trace_id, kind=kind, service=service, model=model,
                         status=status, session_id=session_id, user_id=user_id, q=q_)
        try:
            page = q.list_spans(_state(request).store, key.project, f, limit, cursor)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return PageOut(data=page.data, total=page.total, next_cursor=page.next_cursor)

    @router.get("/traces/{trace_id}", tags=["read"], summary="One trace: its spans, content and scores")
    def get_trace(request: Request, key: ReadKey, trace_id: str) -> dict[str, Any]:
        store = _state(request).store
        spans = q.trace_spans(store, key.project, trace_id.lower())
        if not spans:
            raise HTTPException(404, f"trace {trace_id} not found in project {key.project}")
        spans = [_span_out(s) for s in spans]
        _attach_log_content(spans, q.trace_logs(store, key.project, trace_id.lower()))
        _depths(spans)
        scores = q.trace_scores(store, key.project, trace_id.lower())
        by_span: dict[str, list[dict[str, Any]]] = {}
        for score in scores:
            if score["target_type"] == "span":
                by_span.setdefault(score["target_id"], []).append(score)
        for span in spans:
            span["scores"] = by_span.get(span["span_id"], [])
        # Trace-level facts resolved from whichever span carries them.
        pick = lambda field: next((s[field] for s in spans if s.get(field)), "")  # noqa: E731
        root = next((s for s in spans if not s["parent_span_id"]), spans[0])
        return {
            "trace_id": trace_id.lower(), "name": root["name"], "start_time": min(s["start_time"] for s in spans),
            "end_time": max(s["end_time"] for s in spans), "session_id": pick("session_id"),
            "user_id": pick("user_id"), "environment": pick("environment"), "release": pick("release"),
            "tags": sorted({t for s in spans for t in s["tags"]}),
            "cost_usd": sum(s["cost_usd"] for s in spans), "total_tokens": sum(s["total_tokens"] for s in spans),
            "spans": spans, "scores": [s for s in scores if s["target_type"] != "span"],
        }

    @router.post("/scores", tags=["scores"], status_code=201, summary="Record a score or user feedback")
    def post_score(request: Request, body: ScoreIn) -> dict[str, Any]:
        auth = _state(request).auth
        if body.source == "human":
            key = auth.authenticate(request, "review")
            author = key.name  # a reviewer's scores are signed by their key, never by the request
        else:
            key = auth.authenticate(request, "ingest")
            author = body.author or key.name
        now = datetime.now(UTC)
        trace_id = body.trace_id or (body.target_id if body.target_type == "trace" else "")
        row = ScoreRow(project=key.project, target_type=body.target_type, target_id=body.target_id,
                       trace_id=trace_id.lower(), name=body.name, source=body.source, author=author,
                       value=body.value, label=body.label, comment=body.comment, created_at=now, updated_at=now)
        insert_scores(_state(request).store, [row])
        return {"status": "stored", "target_id": body.target_id, "name": body.name, "author": author}

    @router.get("/keys", tags=["admin"], summary="List the project's API keys")
    def list_keys(request: Request, key: AdminKey) -> dict[str, Any]:
        return {"data": [_key_out(k) for k in _state(request).keys.list(key.project)]}

    @router.post("/keys", tags=["admin"], status_code=201, summary="Create an API key (the secret is shown once)")
    def create_key(request: Request, key: AdminKey, body: KeyIn) -> dict[str, Any]:
        state = _state(request)
        project = body.project or key.project
        if project != key.project and any(p["name"] == project for p in state.keys.projects()):
            raise HTTPException(403, f"an admin key of '{key.project}' cannot create keys for '{project}'")
        created, secret = state.keys.create(project, body.name, body.scopes,
                                            retention_days=state.settings.retention_days)
        return {**_key_out(created), "secret": secret}

    def _own_key(request: Request, admin: ApiKey, key_id: str) -> ApiKey:
        target = _state(request).keys.get(key_id)
        if target is None or target.project != admin.project:
            raise HTTPException(404, f"no key {key_id} in project {admin.project}")
        return target

    @router.post("/keys/{key_id}/revoke", tags=["admin"], summary="Revoke an API key")
    def revoke_key(request: Request, key: AdminKey, key_id: str) -> dict[str, Any]:
        state = _state(request)
        _own_key(request, key, key_id)
        state.keys.revoke(key_id)
        state.auth.clear()
        return _key_out(state.keys.get(key_id))

    @router.post("/keys/{key_id}/rotate", tags=["admin"], status_code=201,
                 summary="Replace a key with a new secret of the same name and scopes")
    def rotate_key(request: Request, key: AdminKey, key_id: str) -> dict[str, Any]:
        state = _state(request)
        old = _own_key(request, key, key_id)
        created, secret = state.keys.create(old.project, old.name, old.scopes)
        state.keys.revoke(key_id)
        state.auth.clear()
        return {**_key_out(created), "secret": secret, "replaces": key_id}

    @router.delete("/traces/{trace_id}", tags=["admin"], summary="Delete a trace from every table")
    def delete_trace(request: Request, key: AdminKey, trace_id: str) -> dict[str, Any]:
        state = _state(request)
        removed = delete_traces(state.store, key.project, [trace_id.lower()], key.name,
                                f"trace:{trace_id.lower()}", cluster=state.settings.cluster)
        if not removed or not any(removed.values()):
            raise HTTPException(404, f"trace {trace_id} not found in project {key.project}")
        return {"deleted": removed}

    @router.delete("/users/{user_id}", tags=["admin"], summary="Delete everything of one user id")
    def delete_user_data(request: Request, key: AdminKey, user_id: str) -> dict[str, Any]:
        state = _state(request)
        return {"deleted": delete_user(state.store, key.project, user_id, key.name, cluster=state.settings.cluster)}

    @router.get("/projects/current", tags=["read"], summary="The project of the calling key")
    def current_project(key: ReadKey) -> dict[str, Any]:
        return {"project": key.project, "key_name": key.name, "scopes": list(key.scopes),
                "all_scopes": list(SCOPES)}

    @router.get("/admin/storage", tags=["admin"], summary="Rows and bytes per table (all projects)")
    def storage(request: Request, key: AdminKey) -> dict[str, Any]:
        return {"tables": table_sizes(_state(request).store)}

    return router
