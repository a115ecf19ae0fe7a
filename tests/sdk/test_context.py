"""loupe.context propagation: nested, across threads (with the helpers) and asyncio tasks."""

from __future__ import annotations

import asyncio
import threading

import loupe
from tests.sdk.conftest import CaptureCollector, flushed


def test_context_applies_to_every_span_inside_and_nests(sdk: CaptureCollector) -> None:
    with loupe.context(session_id="s-1", user_id="u-1", tags=["web"], metadata={"plan": "pro"}):
        with loupe.span("outer"):
            with loupe.context(user_id="u-2", tags=["beta", "web"], metadata={"exp": 7}):
                with loupe.span("inner"):
                    pass
        with loupe.span("sibling"):
            pass
    with loupe.span("outside"):
        pass
    spans = {s.name: s.attributes for s in flushed(sdk)}
    assert spans["outer"]["session.id"] == "s-1" and spans["outer"]["gen_ai.conversation.id"] == "s-1"
    assert spans["outer"]["user.id"] == "u-1" and spans["outer"]["loupe.tags"] == ["web"]
    assert spans["inner"]["session.id"] == "s-1" and spans["inner"]["user.id"] == "u-2"
    assert spans["inner"]["loupe.tags"] == ["web", "beta"]
    assert spans["inner"]["loupe.metadata.plan"] == "pro" and spans["inner"]["loupe.metadata.exp"] == "7"
    assert spans["sibling"]["user.id"] == "u-1" and "loupe.metadata.exp" not in spans["sibling"]
    assert not any(k.startswith(("session.", "user.", "loupe.tags", "loupe.metadata")) for k in spans["outside"])


def test_context_crosses_threads_with_wrap_and_executor(sdk: CaptureCollector) -> None:
    @loupe.observe
    def work(i: int) -> int:
        return i * 2

    with loupe.context(session_id="threads"):
        with loupe.span("parent") as parent:
            with loupe.ThreadPoolExecutor(max_workers=4) as pool:
                assert list(pool.map(work, range(6))) == [0, 2, 4, 6, 8, 10]
            t = threading.Thread(target=loupe.wrap(work), args=(100,))
            t.start()
            t.join()
            # A bare thread does not inherit contextvars (documented): its span is a new trace.
            bare = threading.Thread(target=work, args=(7,))
            bare.start()
            bare.join()
    spans = flushed(sdk)
    workers = [s for s in spans if s.name.endswith("work")]
    assert len(workers) == 8
    linked = [s for s in workers if s.parent_span_id == parent.span_id]
    assert len(linked) == 7
    assert all(s.trace_id == parent.trace_id and s.attributes["session.id"] == "threads" for s in linked)
    (orphan,) = [s for s in workers if s not in linked]
    assert orphan.parent_span_id == "" and "session.id" not in orphan.attributes


def test_context_follows_asyncio_tasks_and_stays_isolated(sdk: CaptureCollector) -> None:
    @loupe.observe
    async def step(label: str) -> str:
        await asyncio.sleep(0.01)
        return label

    async def request(i: int) -> None:
        with loupe.context(session_id=f"s{i}", user_id=f"u{i}"):
            with loupe.span(f"request-{i}"):
                await asyncio.gather(step(f"a{i}"), asyncio.create_task(step(f"b{i}")))

    async def main() -> None:
        await asyncio.gather(*(request(i) for i in range(5)))

    asyncio.run(main())
    spans = flushed(sdk)
    roots = {s.name: s for s in spans if s.name.startswith("request-")}
    assert len(roots) == 5
    for s in spans:
        if s.name.endswith("step"):
            label = s.attributes["loupe.output"]
            root = roots[f"request-{label[1:]}"]
            assert s.parent_span_id == root.span_id and s.trace_id == root.trace_id
            assert s.attributes["session.id"] == f"s{label[1:]}"


def test_a_context_object_can_be_shared_between_threads(sdk: CaptureCollector) -> None:
    shared = loupe.context(tags=["shared"])
    barrier = threading.Barrier(4)

    def run(i: int) -> None:
        with shared:
            barrier.wait(5)
            with loupe.span(f"t{i}"):
                pass
            barrier.wait(5)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with loupe.span("after"):
        pass
    spans = {s.name: s.attributes for s in flushed(sdk)}
    assert all(spans[f"t{i}"]["loupe.tags"] == ["shared"] for i in range(4))
    assert "loupe.tags" not in spans["after"]
