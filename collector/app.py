"""`create_app(settings)`: the collector — OTLP ingestion, the read API, health and metrics.

Collaborators (store, WAL insert seam) can be passed in, which is how tests make the store fail or
share one embedded engine between several apps.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from analytics.alerts.scheduler import start_scheduler
from collector import api, api_alerts, api_judges, api_ops, api_read, api_trends, grpc_server, ingest
from collector.auth import Authenticator, AuthError
from collector.metrics import Metrics
from collector.pipeline import Pipeline
from collector.settings import Settings
from collector.wal import WAL
from collector.writer import InsertFn, Writer
from judges.service import start_judges
from store.client import Store, StoreError, open_store
from store.keys import KeyRepository
from store.migrate import migrate

log = logging.getLogger(__name__)
DEFAULT_PROJECT = "default"


@dataclass
class AppState:
    settings: Settings
    store: Store
    keys: KeyRepository
    auth: Authenticator
    metrics: Metrics
    wal: WAL
    writer: Writer
    admin_secret: str | None = None  # set only when this start created the first admin key
    judges: Any = None  # judges.service.JudgeService, made in the lifespan


def _error(status: int, error: str, detail: Any = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def credentials_file(settings: Settings) -> Path:
    return Path(settings.wal.dir).parent / "credentials"


def _bootstrap_keys(settings: Settings, keys: KeyRepository) -> str | None:
    if settings.bootstrap_api_key:
        keys.ensure_secret(DEFAULT_PROJECT, "bootstrap", settings.bootstrap_api_key, ("admin",),
                           settings.retention_days)
        return None
    if keys.count() == 0:
        _, secret = keys.create(DEFAULT_PROJECT, "admin", ["admin"], retention_days=settings.retention_days)
        path = credentials_file(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secret + "\n")
        # Shown once on the console, never through logging (logs get shipped and kept).
        print(f"\n  Loupe: created project '{DEFAULT_PROJECT}' and its admin key (saved to {path}):\n"
              f"    {secret}\n", file=sys.stderr, flush=True)
        return secret
    return None


def build_state(settings: Settings, store: Store | None = None, insert: InsertFn | None = None) -> AppState:
    if store is None:
        store = open_store(settings.dsn, settings.database, settings.retention_days, cluster=settings.cluster)
    else:
        migrate(store, settings.retention_days, cluster=settings.cluster)
    api_ops.enforce_retention(store, settings)  # loupe.yaml's retention into projects, then into TTLs
    keys = KeyRepository(store)
    admin_secret = _bootstrap_keys(settings, keys)
    metrics = Metrics()
    wal = WAL(settings.wal.dir, max_bytes=settings.wal.max_bytes, segment_bytes=settings.wal.segment_bytes)
    writer = Writer(wal, store, Pipeline(settings), metrics, batch_records=settings.wal.batch_records,
                    batch_bytes=settings.wal.batch_bytes, flush_interval_s=settings.wal.flush_interval_s,
                    insert=insert, workers=settings.ingest_workers)
    return AppState(settings, store, keys, Authenticator(keys), metrics, wal, writer, admin_secret)


def create_app(settings: Settings, store: Store | None = None, insert: InsertFn | None = None) -> FastAPI:
    holder: dict[str, AppState] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = build_state(settings, store, insert)
        holder["state"] = state
        app.state.loupe = state
        grpc = None
        if settings.grpc_port:  # OTLP/gRPC on the same state and WAL; 0 disables it
            grpc, app.state.grpc_port = await grpc_server.start(
                state, settings.host, settings.grpc_port, settings.limits.max_decompressed_bytes)
        state.judges = start_judges(state)  # online worker (when enabled), backfills, queues
        state.writer.start()
        app.state.alerts = start_scheduler(state.store, settings)  # None when no rules or reports are set
        try:
            yield
        finally:
            if app.state.alerts is not None:
                app.state.alerts.stop()
            if grpc is not None:
                await grpc.stop(grace=5)
            state.judges.stop()
            state.writer.stop(drain=True, timeout=10)
            state.wal.close()

    app = FastAPI(title="Loupe", version="0.1.0", lifespan=lifespan,
                  description="OTLP collector and read API for LLM observability.")

    class _LazyState:
        def __getattr__(self, name: str) -> Any:
            return getattr(holder["state"], name)

    app.include_router(ingest.build_router(_LazyState()))
    app.include_router(api_read.build_router())  # first: its /api/traces/slowest must beat /api/traces/{id}
    app.include_router(api.build_router())
    app.include_router(api_judges.build_router())
    app.include_router(api_ops.build_router())
    app.include_router(api_trends.build_router())
    app.include_router(api_alerts.build_router())

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="Readiness: store reachable and writer keeping up")
    def readyz(request: Request) -> JSONResponse:
        state: AppState = request.app.state.loupe
        checks: dict[str, Any] = {}
        try:
            state.store.query_rows("SELECT 1")
            checks["store"] = "ok"
        except StoreError:
            checks["store"] = "unreachable"
        checks["writer"] = "ok" if state.writer.healthy else f"failing: {state.writer.last_error[:200]}"
        checks["wal_pending_bytes"] = state.wal.pending_bytes
        full = state.wal.pending_bytes >= state.settings.wal.max_bytes * 0.95
        checks["wal"] = "full" if full else "ok"
        ok = checks["store"] == "ok" and state.writer.healthy and not full
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks},
                            status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics of the collector")
    def metrics(request: Request) -> PlainTextResponse:
        state: AppState = request.app.state.loupe
        state.metrics.wal_bytes.set(state.wal.pending_bytes)
        state.metrics.wal_records.set(state.wal.pending_records)
        return PlainTextResponse(generate_latest(state.metrics.registry).decode(),
                                 media_type="text/plain; version=0.0.4")

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> JSONResponse:
        return _error(exc.status, "unauthorized" if exc.status == 401 else "forbidden", exc.detail,
                      {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "request failed", exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [{"loc": e.get("loc"), "msg": e.get("msg")} for e in exc.errors()]
        return _error(422, "invalid request", detail)

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        log.error("store error on %s: %s", request.url.path, exc)
        return _error(503, "store unavailable", "the database did not answer; retry shortly",
                      {"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return _error(500, "internal error", "see the collector's log")

    return app
