"""Cost of the Loupe SDK per call, in microseconds, against plain OpenTelemetry doing the same work.

    .venv/bin/python bench/sdk_overhead.py [--n 5000] [--rounds 10]

Every variant exports through a BatchSpanProcessor into a no-op exporter, so the network is not
measured; variants run in turn, and each figure is the best of `--rounds` runs.
  decorated call   a small function with two arguments and a dict result
  traced LLM call  a span with a realistic chat (system prompt, history, tool call, answer), usage
                   and parameters: `span.set_llm(...)` vs setting the same GenAI attributes by hand
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

import loupe

QUEUE = 1_000_000  # large enough that nothing is dropped: drops would make a run look cheaper

MESSAGES = [
    {"role": "system", "content": "You are a support assistant for an online shop. Be brief and precise. " * 3},
    {"role": "user", "content": "Hi, my order 7731 has not arrived yet. It was supposed to come on Monday."},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_order", "arguments": '{"id": 7731}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "in transit", "eta": "Thursday"}'},
]
ANSWER = "Your order 7731 is in transit and should arrive on Thursday. Sorry for the delay!"


class NoopExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def lookup(order_id: int, verbose: bool = False) -> dict:
    return {"id": order_id, "status": "in transit"}


def llm_with_loupe() -> None:
    with loupe.span("chat gpt-4o-mini", kind="llm") as s:
        s.set_llm(
            provider="openai",
            request_model="gpt-4o-mini",
            response_model="gpt-4o-mini-2024-07-18",
            input_messages=MESSAGES,
            output_messages=[{"role": "assistant", "content": ANSWER}],
            input_tokens=412,
            output_tokens=19,
            cached_input_tokens=256,
            temperature=0.2,
            max_tokens=300,
            finish_reasons=["stop"],
        )


def _parts(m: dict) -> dict:
    """What an app instrumenting by hand writes to produce the conventions' parts schema."""
    if m["role"] == "tool":
        return {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": m["tool_call_id"], "response": m["content"]}],
        }
    parts = [{"type": "text", "content": m["content"]}] if m.get("content") else []
    for c in m.get("tool_calls") or ():
        f = c["function"]
        parts.append({"type": "tool_call", "id": c["id"], "name": f["name"], "arguments": json.loads(f["arguments"])})
    return {"role": m["role"], "parts": parts}


CONTEXT = {"session_id": "s-1", "user_id": "u-1", "tags": ["bench"], "metadata": {"plan": "pro"}}
# What `loupe.context(**CONTEXT)` puts on every span, for the plain OpenTelemetry comparison.
CONTEXT_ATTRIBUTES = {
    "session.id": "s-1",
    "gen_ai.conversation.id": "s-1",
    "user.id": "u-1",
    "loupe.tags": ["bench"],
    "loupe.metadata.plan": "pro",
}


def make_plain_llm(tracer, extra: dict) -> Callable[[], None]:
    def llm_plain_otel() -> None:
        with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=extra) as s:
            system = [{"type": "text", "content": m["content"]} for m in MESSAGES if m["role"] == "system"]
            history = [_parts(m) for m in MESSAGES if m["role"] != "system"]
            output = [{"role": "assistant", "parts": [{"type": "text", "content": ANSWER}], "finish_reason": "stop"}]
            s.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                    "gen_ai.input.messages": json.dumps(history),
                    "gen_ai.system_instructions": json.dumps(system),
                    "gen_ai.output.messages": json.dumps(output),
                    "gen_ai.usage.input_tokens": 412,
                    "gen_ai.usage.output_tokens": 19,
                    "gen_ai.usage.cache_read.input_tokens": 256,
                    "gen_ai.request.temperature": 0.2,
                    "gen_ai.request.max_tokens": 300,
                    "gen_ai.response.finish_reasons": ["stop"],
                }
            )

    return llm_plain_otel


def make_plain_decorated(tracer, extra: dict) -> Callable[[int], dict]:
    def decorated_plain_otel(order_id: int, verbose: bool = False) -> dict:
        with tracer.start_as_current_span("lookup", attributes=extra) as s:
            s.set_attribute("loupe.input", json.dumps({"order_id": order_id, "verbose": verbose}))
            result = lookup(order_id, verbose)
            s.set_attribute("loupe.output", json.dumps(result))
            s.set_attribute("loupe.span.kind", "chain")
            return result

    return decorated_plain_otel


def timed(fn: Callable[[], object], n: int) -> float:
    # CPU time of the calling thread: what the app's thread pays, without the time the VM or the
    # exporter thread took the core away (wall-clock figures on 2 shared cores swing by ±30%).
    start = time.thread_time()
    for _ in range(n):
        fn()
    return (time.thread_time() - start) / n * 1e6


def interleaved(variants: dict[str, Callable[[], object]], n: int, rounds: int, flush: Callable[[], object]) -> dict:
    """Best µs per call of each variant, running them in turn each round so that machine noise
    (shared cores, the exporter thread) hits all of them alike."""
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(rounds):
        for label, fn in variants.items():
            flush()  # every run starts with an empty queue
            best[label] = min(best[label], timed(fn, n))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5_000, help="calls per run")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    n, rounds = args.n, args.rounds

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NoopExporter(), max_queue_size=QUEUE))
    tracer = provider.get_tracer("bench")
    decorated = loupe.observe(lookup)

    def flush_all() -> None:
        provider.force_flush()
        loupe.flush()

    loupe.init(enabled=False)
    disabled = interleaved(
        {"decorated": lambda: decorated(7731, verbose=True), "llm": llm_with_loupe}, n, rounds, loupe.flush
    )
    loupe.init(exporter=NoopExporter(), max_queue_size=QUEUE)
    plain_dec, plain_llm = make_plain_decorated(tracer, {}), make_plain_llm(tracer, {})
    ctx_dec, ctx_llm = make_plain_decorated(tracer, CONTEXT_ATTRIBUTES), make_plain_llm(tracer, CONTEXT_ATTRIBUTES)
    sections = {
        "decorated call": {
            "undecorated function": lambda: lookup(7731, verbose=True),
            "plain OpenTelemetry": lambda: plain_dec(7731, verbose=True),
            "loupe": lambda: decorated(7731, verbose=True),
        },
        "traced LLM call": {"plain OpenTelemetry": plain_llm, "loupe": llm_with_loupe},
    }
    results = {what: interleaved(variants, n, rounds, flush_all) for what, variants in sections.items()}
    # Inside a loupe.context every Loupe span gets 5 more attributes; the plain spans get the same 5.
    with loupe.context(**CONTEXT):
        results["decorated call inside loupe.context (session, user, tags, metadata)"] = interleaved(
            {
                "plain OpenTelemetry": lambda: ctx_dec(7731, verbose=True),
                "loupe": lambda: decorated(7731, verbose=True),
            },
            n,
            rounds,
            flush_all,
        )
        results["traced LLM call inside loupe.context"] = interleaved(
            {"plain OpenTelemetry": ctx_llm, "loupe": llm_with_loupe}, n, rounds, flush_all
        )

    def enter_context() -> None:
        with loupe.context(**CONTEXT):
            pass

    context_cost = interleaved({"context": enter_context}, n, rounds, int)["context"]
    results["decorated call"]["loupe disabled"] = disabled["decorated"]
    results["traced LLM call"]["loupe disabled"] = disabled["llm"]
    stats = loupe.stats()
    loupe.shutdown()
    provider.shutdown()

    print(f"µs per call, best of {rounds} interleaved runs of {n} calls; exporter: no-op behind a BatchSpanProcessor")
    for what, by_label in results.items():
        base = by_label["plain OpenTelemetry"]
        print(f"\n{what}")
        for label, us in by_label.items():
            delta = "" if label == "plain OpenTelemetry" else f"  ({us - base:+.1f} vs plain OpenTelemetry)"
            print(f"  {label:<24} {us:8.2f}{delta}")
    print(f"\nentering and leaving loupe.context (once per request): {context_cost:.2f}")
    print(f"loupe.stats(): exported={stats.exported} dropped={stats.dropped} failed={stats.failed}")


if __name__ == "__main__":
    main()
