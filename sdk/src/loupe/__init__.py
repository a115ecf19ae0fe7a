"""Loupe SDK: trace LLM apps with OpenTelemetry GenAI spans and send them to a Loupe collector.

    import loupe

    loupe.init(service="support-bot")          # or LOUPE_* environment variables
    loupe.instrument_openai()                  # optional: trace the openai client

    @loupe.observe(kind="tool")
    def lookup(order_id: str) -> dict: ...

    with loupe.context(session_id="s-1", user_id="u-42"):
        answer(question)

The SDK never raises into the app and never blocks it on the network; `enabled=False` (or
`LOUPE_ENABLED=false`) makes every call a no-op.
"""

from __future__ import annotations

from loupe._context import ThreadPoolExecutor, context, wrap
from loupe._observe import observe
from loupe._prompt import Prompt, prompt
from loupe._runtime import Stats, feedback, flush, init, shutdown, stats
from loupe._span import LoupeSpan, current_span, current_trace_id, span
from loupe._version import __version__


def instrument_openai(*, stream_usage: bool = True) -> bool:
    """Trace the official `openai` client (needs the `loupe-sdk[openai]` extra). See
    `loupe.integrations.openai`."""
    from loupe.integrations.openai import instrument_openai as _instrument

    return _instrument(stream_usage=stream_usage)


def uninstrument_openai() -> None:
    from loupe.integrations.openai import uninstrument_openai as _uninstrument

    _uninstrument()


__all__ = [
    "LoupeSpan",
    "Prompt",
    "Stats",
    "ThreadPoolExecutor",
    "__version__",
    "context",
    "current_span",
    "current_trace_id",
    "feedback",
    "flush",
    "init",
    "instrument_openai",
    "observe",
    "prompt",
    "shutdown",
    "span",
    "stats",
    "uninstrument_openai",
    "wrap",
]
