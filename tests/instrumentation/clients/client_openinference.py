"""openinference-instrumentation-openai with its defaults; OPENINFERENCE_ENABLE_GENAI_SEMCONV (OI+genai)
is passed through from the test's environment."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import _scenario as s
import openai
from openinference.instrumentation import OITracer, TraceConfig, using_attributes
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

provider = TracerProvider(resource=Resource({"service.name": "oi-client", "service.version": "1.2.3",
                                             "deployment.environment.name": "test"}))
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{s.ENDPOINT}/v1/traces",
                                                                 headers={"Authorization": f"Bearer {s.API_KEY}"})))
OpenAIInstrumentor().instrument(tracer_provider=provider)
tracer = OITracer(provider.get_tracer("app"), TraceConfig())


class _Tool(s.ToolSpan):
    def __init__(self, span: Any) -> None:
        self.span = span

    def set_result(self, result: str) -> None:
        self.span.set_output(result)


@contextlib.contextmanager
def session() -> Iterator[None]:
    with using_attributes(session_id=s.SESSION_ID, user_id=s.USER_ID, tags=["instrumentation-test"],
                          metadata={"tier": "gold"}, prompt_template=s.TEMPLATE,
                          prompt_template_version=str(s.PROMPT_VERSION), prompt_template_variables=s.VARIABLES):
        with tracer.start_as_current_span("support-workflow", openinference_span_kind="chain") as root:
            root.set_input("[workflow] start")
            yield
            root.set_output("[workflow] done")


@contextlib.contextmanager
def tool_span(name: str, call_id: str, args: dict[str, Any]) -> Iterator[s.ToolSpan]:
    with tracer.start_as_current_span(name, openinference_span_kind="tool") as span:
        span.set_tool(name=name, description="Current weather for a city.",
                      parameters=s.WEATHER_TOOL["function"]["parameters"])
        span.set_input(json.dumps(args), mime_type="application/json")
        yield _Tool(span)


client = openai.OpenAI(base_url=s.MODEL_URL, api_key="sk-test", max_retries=0)
s.run(client, s.Hooks(session=session, tool_span=tool_span, flush=lambda: provider.shutdown()))
