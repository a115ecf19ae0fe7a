"""A FastAPI app instrumented with the SDK, served by a real uvicorn, under concurrent requests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

import loupe
from tests.sdk.conftest import CaptureCollector, flushed, free_port


def make_app() -> FastAPI:
    app = FastAPI()

    @loupe.observe(kind="retriever")
    async def retrieve(q: str) -> list[str]:
        await asyncio.sleep(0.01)
        return [f"doc about {q}"]

    @loupe.observe(kind="llm")
    async def generate(q: str, docs: list[str]) -> str:
        await asyncio.sleep(0.01)
        return f"answer to {q}"

    @loupe.observe(name="handle")
    async def handle(q: str) -> dict:
        docs = await retrieve(q)
        return {"answer": await generate(q, docs), "trace_id": loupe.current_trace_id()}

    @app.get("/ask")
    async def ask(q: str, user: str) -> dict:
        with loupe.context(session_id=f"sess-{user}", user_id=user):
            return await handle(q)

    @loupe.observe(name="sync-handle")
    def sync_handle(q: str) -> dict:
        return {"answer": q[::-1], "trace_id": loupe.current_trace_id()}

    @app.get("/sync")
    def sync(q: str) -> dict:  # runs in the threadpool
        return sync_handle(q)

    return app


@pytest.fixture
def server(sdk: CaptureCollector) -> Iterator[str]:
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(make_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def test_one_trace_per_request_under_concurrency(sdk: CaptureCollector, server: str) -> None:
    async def load() -> list[dict]:
        async with httpx.AsyncClient(base_url=server, timeout=30) as client:
            asks = [client.get("/ask", params={"q": f"q{i}", "user": f"u{i}"}) for i in range(20)]
            syncs = [client.get("/sync", params={"q": f"s{i}"}) for i in range(10)]
            replies = await asyncio.gather(*asks, *syncs)
        assert all(r.status_code == 200 for r in replies)
        return [r.json() for r in replies]

    bodies = asyncio.run(load())
    spans = flushed(sdk)
    by_trace: dict[str, list] = defaultdict(list)
    for s in spans:
        by_trace[s.trace_id].append(s)
    assert len(by_trace) == 30  # one trace per request, nothing shared, nothing split
    assert {b["trace_id"] for b in bodies} == set(by_trace)
    for trace_spans in by_trace.values():
        # Recent FastAPI versions trace requests themselves through the global provider, which
        # Loupe set: their server span is then the root. Either way: one root per trace.
        assert len([s for s in trace_spans if not s.parent_span_id]) == 1
    for i, body in enumerate(bodies[:20]):
        trace = {s.name.rsplit(".", 1)[-1]: s for s in by_trace[body["trace_id"]] if s.scope == "loupe"}
        assert set(trace) == {"handle", "retrieve", "generate"}
        root = trace["handle"]
        assert trace["retrieve"].parent_span_id == root.span_id == trace["generate"].parent_span_id
        assert all(s.attributes["session.id"] == f"sess-u{i}" for s in trace.values())
        assert trace["generate"].json("loupe.input")["q"] == f"q{i}"
    for body in bodies[20:]:
        (only,) = [s for s in by_trace[body["trace_id"]] if s.scope == "loupe"]
        assert only.name == "sync-handle"
