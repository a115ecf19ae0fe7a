"""traceloop-sdk (OpenLLMetry) with its defaults, exporting to our endpoint with a bearer key."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

os.environ["TRACELOOP_TELEMETRY"] = "false"  # no phone-home
os.environ.setdefault("TRACELOOP_METRICS_ENABLED", "true")

import _scenario as s  # noqa: E402
import openai  # noqa: E402
from opentelemetry import trace  # noqa: E402
from traceloop.sdk import Traceloop  # noqa: E402
from traceloop.sdk.decorators import tool, workflow  # noqa: E402
from traceloop.sdk.instruments import Instruments  # noqa: E402

Traceloop.init(app_name="openllmetry-client", api_endpoint=s.ENDPOINT, api_key=s.API_KEY, disable_batch=True,
               telemetry_enabled=False, instruments={Instruments.OPENAI},
               resource_attributes={"service.version": "1.2.3", "deployment.environment": "test"})


class _Result(s.ToolSpan):
    result = ""

    def set_result(self, result: str) -> None:
        self.result = result


@tool(name="get_weather")
def get_weather(city: str) -> str:
    return s.TOOL_RESULT


@contextlib.contextmanager
def tool_span(name: str, call_id: str, args: dict[str, Any]) -> Iterator[s.ToolSpan]:
    result = _Result()
    yield result
    get_weather(**args)  # the decorated function is the tool span; it returns the result


@contextlib.contextmanager
def session() -> Iterator[None]:
    Traceloop.set_association_properties({"session_id": s.SESSION_ID, "user_id": s.USER_ID, "tier": "gold"})
    Traceloop.set_prompt(s.TEMPLATE, s.VARIABLES, s.PROMPT_VERSION)
    yield


@workflow(name="support_workflow")
def main() -> None:
    client = openai.OpenAI(base_url=s.MODEL_URL, api_key="sk-test", max_retries=0)
    s.run(client, s.Hooks(session=session, tool_span=tool_span))


main()
trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
