"""opentelemetry-instrumentation-openai-v2 with util-genai, content on spans and in log events.

It has no session, user or prompt concept and no Responses API span; its tool execution goes
through util-genai's ToolInvocation, which is what an app using it would do.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_and_event")
os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")

import _scenario as s  # noqa: E402
import openai  # noqa: E402
from opentelemetry import _logs, trace  # noqa: E402
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter  # noqa: E402
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor  # noqa: E402
from opentelemetry.sdk._logs import LoggerProvider  # noqa: E402
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402

headers = {"Authorization": f"Bearer {s.API_KEY}"}
resource = Resource({"service.name": "otel-v2-client", "deployment.environment": "test"})
provider = TracerProvider(resource=resource)
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{s.ENDPOINT}/v1/traces",
                                                                 headers=headers)))
trace.set_tracer_provider(provider)
logs = LoggerProvider(resource=resource)
logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{s.ENDPOINT}/v1/logs",
                                                                       headers=headers)))
_logs.set_logger_provider(logs)
OpenAIInstrumentor().instrument()
tracer = trace.get_tracer("app")


class _Tool(s.ToolSpan):
    def __init__(self, span: Any) -> None:
        self.span = span

    def set_result(self, result: str) -> None:
        self.span.set_attribute("gen_ai.tool.call.result", result)


@contextlib.contextmanager
def tool_span(name: str, call_id: str, args: dict[str, Any]) -> Iterator[s.ToolSpan]:
    # The instrumentation does not trace tool execution: an app sets the semconv keys by hand.
    attrs = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, "gen_ai.tool.call.id": call_id,
             "gen_ai.tool.call.arguments": json.dumps(args), "gen_ai.tool.type": "function"}
    with tracer.start_as_current_span(f"execute_tool {name}", attributes=attrs) as span:
        yield _Tool(span)


def flush() -> None:
    provider.shutdown()
    logs.shutdown()


client = openai.OpenAI(base_url=s.MODEL_URL, api_key="sk-test", max_retries=0)
s.run(client, s.Hooks(tool_span=tool_span, flush=flush, skip={"responses"}))
