"""The model provider as the demo imagines it: an httpx transport in front of the built-in model that adds
latency (time to first token, generation speed, slow tails), errors and timeouts on the simulated clock.

The openai client uses it as its `http_client` transport, so the SDK's openai integration sees ordinary
responses, streams, 429/503 errors and timeouts, as it would from a real provider.
"""

from __future__ import annotations

import contextvars
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from collector.demo.clock import Clock
from collector.demo.scenario import Conditions

# (time to first token in s, output tokens per s); unknown models get the first.
_SPEED = {"gpt-4o-mini": (0.35, 90.0), "gpt-4o": (0.6, 45.0)}


@dataclass
class World:
    conditions: Conditions
    rng: random.Random


_WORLD: contextvars.ContextVar[World | None] = contextvars.ContextVar("demo_world", default=None)


@contextmanager
def weather(world: World) -> Iterator[World]:
    token = _WORLD.set(world)
    try:
        yield world
    finally:
        _WORLD.reset(token)


class SimulatedProvider(httpx.BaseTransport):
    def __init__(self, clock: Clock, inner: httpx.BaseTransport | None = None) -> None:
        self._clock = clock
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        world = _WORLD.get()
        if world is None:
            return self._inner.handle_request(request)
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            body = {}
        model = str(body.get("model", ""))
        c, rng = world.conditions, world.rng
        rate = c.error_rate + (c.outage_rate if c.outage_model == model else 0.0)
        if rng.random() < rate:
            self._clock.sleep(rng.uniform(0.05, 0.6))
            if rng.random() < 0.5:
                return httpx.Response(429, headers={"retry-after": "2"}, request=request, json={"error": {
                    "message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}})
            return httpx.Response(503, request=request, json={"error": {
                "message": "The server is overloaded or not ready yet.", "type": "server_error"}})
        response = self._inner.handle_request(request)
        data = response.read()
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in ("content-length", "connection")]
        if request.url.path.endswith("/embeddings"):
            self._clock.sleep(rng.uniform(0.03, 0.12) * c.slow_factor)
            return httpx.Response(response.status_code, headers=headers, content=data, request=request)
        base = next((v for k, v in sorted(_SPEED.items(), key=lambda kv: -len(kv[0])) if model.startswith(k)),
                    _SPEED["gpt-4o-mini"])
        tail = rng.uniform(3, 8) if rng.random() < 0.03 else 1.0  # the slow calls every provider has
        factor = c.slow_factor * tail * rng.lognormvariate(0, 0.3)
        events = data.split(b"\n\n") if body.get("stream") else []
        events = [e for e in events if e.strip()]
        out_tokens = _output_tokens(data, events)
        events = _coalesce(events)
        ttft = base[0] * factor + len(request.content or b"") / 40_000  # prefill grows with the prompt
        total = ttft + out_tokens / base[1] * factor
        if total > c.timeout_s:
            self._clock.sleep(c.timeout_s)
            raise httpx.ReadTimeout("the provider did not answer in time", request=request)
        self._clock.sleep(ttft)
        if not events:
            self._clock.sleep(total - ttft)
            return httpx.Response(response.status_code, headers=headers, content=data, request=request)
        return httpx.Response(response.status_code, headers=headers, request=request,
                              stream=_Paced(events, self._clock, total - ttft))

    def close(self) -> None:
        self._inner.close()


def _output_tokens(data: bytes, events: list[bytes]) -> int:
    if events:
        return max(1, len(events))  # one delta per word from the built-in model, about a token each
    try:
        return int(json.loads(data).get("usage", {}).get("completion_tokens") or 40)
    except (ValueError, AttributeError):
        return 40


def _coalesce(events: list[bytes], words: int = 8) -> list[bytes]:
    """Merge runs of text deltas into chunks of several words, as real providers often send them: a third of
    the backfill's time went into the openai client parsing one chunk per word."""
    out: list[bytes] = []
    pending: dict | None = None
    count = 0
    for event in events:
        chunk = _text_chunk(event)
        if chunk is None:
            if pending is not None:
                out.append(b"data: " + json.dumps(pending).encode())
                pending = None
            out.append(event)
            continue
        if pending is None:
            pending, count = chunk, 0
        else:
            pending["choices"][0]["delta"]["content"] += chunk["choices"][0]["delta"]["content"]
        count += 1
        if count >= words:
            out.append(b"data: " + json.dumps(pending).encode())
            pending = None
    if pending is not None:
        out.append(b"data: " + json.dumps(pending).encode())
    return out


def _text_chunk(event: bytes) -> dict | None:
    """A chat chunk whose only change is text, else None (role, tool calls, finish, usage, [DONE]…)."""
    if not event.startswith(b"data: {") or b'"content"' not in event:
        return None
    chunk = json.loads(event[6:])
    choices = chunk.get("choices") or []
    if len(choices) != 1 or choices[0].get("finish_reason") or set(choices[0].get("delta") or {}) != {"content"}:
        return None
    return chunk


class _Paced(httpx.SyncByteStream):
    """Server-sent events released after the generation time (all at the end: the clock is simulated)."""

    def __init__(self, events: list[bytes], clock: Clock, generation_s: float) -> None:
        self._events, self._clock, self._rest = events, clock, generation_s

    def __iter__(self) -> Iterator[bytes]:
        for i, event in enumerate(self._events):
            if i == len(self._events) - 1:
                self._clock.sleep(self._rest)
            if i == 0:
                self._clock.first_chunk()
            yield event + b"\n\n"
