"""The langfuse SDK's `langfuse.openai` drop-in: OTLP to /api/public/otel/v1/traces with Basic auth."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import _scenario as s

os.environ.update({"LANGFUSE_PUBLIC_KEY": "pk-lf-test", "LANGFUSE_SECRET_KEY": s.API_KEY,
                   "LANGFUSE_BASE_URL": s.ENDPOINT, "LANGFUSE_TRACING_ENVIRONMENT": "test",
                   "LANGFUSE_RELEASE": "2024.06.1", "OTEL_SERVICE_NAME": "langfuse-client"})

from langfuse import Langfuse, propagate_attributes  # noqa: E402
from langfuse.openai import openai  # noqa: E402  (the patched module)

langfuse = Langfuse(flush_at=1)


class _Tool(s.ToolSpan):
    def __init__(self, observation: Any) -> None:
        self.observation = observation

    def set_result(self, result: str) -> None:
        self.observation.update(output=result)


@contextlib.contextmanager
def session() -> Iterator[None]:
    with langfuse.start_as_current_observation(name="support-workflow", as_type="span", input="[workflow] start"):
        with propagate_attributes(session_id=s.SESSION_ID, user_id=s.USER_ID, tags=["instrumentation-test"],
                                  metadata={"tier": "gold"},
                                  prompt={"name": s.PROMPT_NAME, "version": s.PROMPT_VERSION}):
            yield


@contextlib.contextmanager
def tool_span(name: str, call_id: str, args: dict[str, Any]) -> Iterator[s.ToolSpan]:
    with langfuse.start_as_current_observation(name=name, as_type="tool", input=args) as observation:
        yield _Tool(observation)


def kwargs(call: str) -> dict[str, Any]:
    return {"name": f"{call}-generation"}


client = openai.OpenAI(base_url=s.MODEL_URL, api_key="sk-test", max_retries=0)
s.run(client, s.Hooks(session=session, tool_span=tool_span, kwargs=kwargs, flush=langfuse.shutdown))
