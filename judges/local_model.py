"""A small deterministic OpenAI-compatible server: tests, `loupe demo` and LLM-judge tests talk to it.

Endpoints: /v1/chat/completions (plain, SSE stream with a final usage chunk, tool calls), /v1/responses
(plain and stream), /v1/embeddings (float or base64) and /v1/models. Answers are derived from a hash
of the input, so the same request always gets the same answer. Usage looks like OpenAI's: ~4 chars a
token, prompts of `cache_threshold` tokens or more report cached tokens, o-series/gpt-5 models report
reasoning tokens. `faults` injects failures (every Nth request) for retry tests.

Judge mode: a structured-output request (`response_format` json_schema) is answered with JSON that fits
the schema; `judge` (a callable given the request body) scripts the verdict instead, returning a dict
(sent as JSON), a string (sent as the raw content) or None (the default answer).

`respond` scripts other chat completions the same way (`loupe demo` makes answers depend on the prompt):
given the request body it returns the assistant's text, a tool call `{"name", "arguments"}`, or None.

    with LocalModel() as base_url:  # or: python -m judges.local_model --port 8011
        client = openai.OpenAI(base_url=base_url, api_key="x")
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_OPENERS = ("Sure.", "Good question.", "Here is what I found.", "In short:", "Let me explain.", "Certainly.")
_BODIES = (
    "The key point about {topic} is that it depends on the context you give it.",
    "For {topic}, start with the simplest option and measure before changing anything.",
    "Most issues with {topic} come from unclear requirements rather than from the tools.",
    "{topic} works best when each step is small, observable and easy to undo.",
    "People often overlook how {topic} interacts with caching and retries.",
    "A reliable approach to {topic} is to write down the expected result first.",
)
_CLOSERS = ("Hope that helps.", "Let me know if you need more detail.", "", "Anything else?")
_STOP = {"what", "which", "about", "there", "their", "would", "could", "should", "please", "tell", "with"}


@dataclass
class Faults:
    """Every Nth model request misbehaves (0 = never); `delay_s` slows every answer."""

    malformed_every: int = 0  # 200 with a body that is not JSON
    rate_limit_every: int = 0  # 429 with Retry-After
    retry_after_s: float = 1.0
    delay_s: float = 0.0
    rate_limit_first: int = 0  # the first N requests get 429: a burst that then clears
    stall_every: int = 0  # the request waits `stall_s` before answering: client timeouts
    stall_s: float = 5.0
    invalid_json_every: int = 0  # structured-output content that is not JSON (the envelope is fine)
    bad_label_every: int = 0  # structured-output content with an enum value outside the schema
    error_every: int = 0  # an error reply with status `error_status` (5xx to retry, 4xx not to)
    error_status: int = 503


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8", "replace")).digest()[:8], "big")


def tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)


def _text(content: Any) -> str:
    """Message content as text: a string, or a list of text parts (chat and Responses shapes)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def _topic(text: str) -> str:
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z-]{3,}", text) if w.lower() not in _STOP]
    return " ".join(words[-2:]).lower() if words else "this"


def answer(prompt: str) -> str:
    """A deterministic, varied answer that mentions the prompt's topic."""
    h = _digest(prompt)
    body = _BODIES[h % len(_BODIES)].format(topic=_topic(prompt))
    parts = [_OPENERS[(h >> 8) % len(_OPENERS)], body[0].upper() + body[1:], _CLOSERS[(h >> 16) % len(_CLOSERS)]]
    return " ".join(p for p in parts if p)


def _fill_schema(schema: Any, seed: int, depth: int = 0) -> Any:
    """A value that satisfies a (simple) JSON schema: enough for structured-output judges."""
    schema = schema if isinstance(schema, dict) else {}
    if "enum" in schema and schema["enum"]:
        return schema["enum"][seed % len(schema["enum"])]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind == "object" and depth < 5:
        props = schema.get("properties") or {}
        return {k: _fill_schema(v, seed >> (i % 32) ^ i, depth + 1) for i, (k, v) in enumerate(props.items())}
    if kind == "array" and depth < 5:
        return [_fill_schema(schema.get("items"), seed, depth + 1)]
    if kind in ("integer", "number"):
        lo, hi = schema.get("minimum", 1), schema.get("maximum", 5)
        value = lo + seed % (int(hi - lo) + 1)
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return bool(seed & 1)
    return answer(str(seed))


def _break_enum(schema: Any, value: Any) -> Any:
    """`value` with its first enum-constrained field set to a label the schema does not allow."""
    props = (schema.get("properties") or {}) if isinstance(schema, dict) else {}
    if isinstance(value, dict):
        for key, sub in props.items():
            if isinstance(sub, dict) and sub.get("enum") and key in value:
                return {**value, key: "not_a_listed_label"}
    return value


def _tool_call(tools: list[Any], text: str, choice: Any, flat: bool) -> dict[str, Any] | None:
    """The tool the user's question asks for: a tool whose name appears in it, or any when required."""
    lowered = text.lower()
    for tool in tools:
        fn = tool if flat else (tool.get("function") or {})
        name = str(fn.get("name", ""))
        words = [w for w in re.split(r"[_\W]+", name.lower()) if len(w) >= 4]
        if choice == "required" or isinstance(choice, dict) or any(w in lowered for w in words):
            props = (fn.get("parameters") or {}).get("properties") or {}
            capitalised = re.findall(r"\b[A-Z][a-z]+\b", text[1:]) or [_topic(text)]
            args = {k: capitalised[-1] if (v or {}).get("type", "string") == "string"
                    else _fill_schema(v, _digest(text)) for k, v in props.items()}
            return {"id": f"call_{_digest(text + name):016x}", "name": name, "arguments": json.dumps(args)}
    return None


def _usage(prompt_tokens: int, completion_tokens: int, model: str, threshold: int, responses: bool) -> dict:
    cached = max(64, prompt_tokens // 2 // 64 * 64) if prompt_tokens >= threshold else 0  # a warm prefix
    reasoning = 16 + completion_tokens % 48 if re.match(r"(o\d|gpt-5)", model) else 0
    out = completion_tokens + reasoning
    if responses:
        return {"input_tokens": prompt_tokens, "input_tokens_details": {"cached_tokens": cached},
                "output_tokens": out, "output_tokens_details": {"reasoning_tokens": reasoning},
                "total_tokens": prompt_tokens + out}
    return {"prompt_tokens": prompt_tokens, "completion_tokens": out, "total_tokens": prompt_tokens + out,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0}}


def _snapshot(model: str) -> str:
    """OpenAI answers with a dated snapshot of the requested alias; so do we."""
    return model if re.search(r"\d{4}-\d{2}-\d{2}$", model) else f"{model}-2025-01-01"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: Nagle + delayed ACK would add 40 ms
    server: _Server
    fault: str | None = None

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read their own output
        pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, events: list[tuple[str | None, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")  # the body ends when the connection does
        self.end_headers()
        for event, data in events:
            head = f"event: {event}\n" if event else ""
            body = data if isinstance(data, str) else json.dumps(data)
            self.wfile.write(f"{head}data: {body}\n\n".encode())
            self.wfile.flush()
        self.close_connection = True

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            models = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "loupe"}
                      for m in ("gpt-4o-mini", "gpt-4o", "o4-mini", "text-embedding-3-small")]
            self._send(200, {"object": "list", "data": models})
        else:
            self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        model: LocalModel = self.server.model
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
            assert isinstance(body, dict)
        except (ValueError, AssertionError):
            return self._send(400, {"error": {"message": "body must be a JSON object", "type": "invalid_request"}})
        model.requests.append({"path": self.path, "body": body})
        fault = self.fault = model.next_fault()
        if fault == "rate_limit":
            return self._send(429, {"error": {"message": "rate limited", "type": "rate_limit_exceeded"}},
                              {"Retry-After": f"{model.faults.retry_after_s:g}"})
        if fault == "malformed":
            return self._send(200, b'{"id": "broken", "choices": [')
        if fault == "error":
            status = model.faults.error_status
            return self._send(status, {"error": {"message": f"injected {status}", "type": "server_error"}})
        route = {"/chat/completions": self._chat, "/responses": self._responses, "/embeddings": self._embed}
        for suffix, handler in route.items():
            if self.path.split("?")[0].rstrip("/").endswith(suffix):
                return handler(body)
        self._send(404, {"error": {"message": f"unknown path {self.path}", "type": "invalid_request_error"}})

    def _chat(self, body: dict[str, Any]) -> None:
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        name, threshold = str(body.get("model") or "gpt-4o-mini"), self.server.model.cache_threshold
        prompt = "\n".join(_text(m.get("content")) for m in messages)
        last = messages[-1] if messages else {}
        call = None
        fmt = body.get("response_format") or {}
        script = self.server.model.respond
        scripted = script(body) if script and fmt.get("type") != "json_schema" else None
        if isinstance(scripted, dict):
            call = {"id": f"call_{_digest(prompt + str(scripted['name'])):016x}", "name": scripted["name"],
                    "arguments": json.dumps(scripted.get("arguments") or {})}
        elif (scripted is None and body.get("tools") and last.get("role") == "user"
              and body.get("tool_choice") != "none"):
            call = _tool_call(body["tools"], _text(last.get("content")), body.get("tool_choice"), flat=False)
        if call:
            text = None
        elif isinstance(scripted, str):
            text = scripted
        elif last.get("role") == "tool":
            text = f"According to the tool result, {_text(last.get('content'))[:300]}"
        elif fmt.get("type") == "json_schema":
            text = self._structured(body, (fmt.get("json_schema") or {}).get("schema"), prompt)
        elif fmt.get("type") == "json_object":
            text = json.dumps({"answer": answer(prompt)})
        else:
            text = answer(prompt)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        finish = "tool_calls" if call else "stop"
        if text is not None and isinstance(limit, int) and tokens(text) > limit > 0:
            text, finish = text[: limit * 4], "length"
        out_tokens = tokens(text or call["arguments"])  # type: ignore[index]
        usage = _usage(tokens(prompt) + 3 * len(messages), out_tokens, name, threshold, responses=False)
        cid, created = f"chatcmpl-{_digest(prompt):016x}", int(time.time())
        tool_calls = [{"id": call["id"], "type": "function",
                       "function": {"name": call["name"], "arguments": call["arguments"]}}] if call else None
        base = {"id": cid, "created": created, "model": _snapshot(name), "system_fingerprint": "fp_loupe"}
        if not body.get("stream"):
            message = {"role": "assistant", "content": text, "refusal": None}
            if tool_calls:
                message["tool_calls"] = tool_calls
            return self._send(200, {**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}]})
        chunk = {**base, "object": "chat.completion.chunk"}
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        if tool_calls:
            deltas.append({"tool_calls": [{"index": 0, **tool_calls[0], "function": {
                "name": call["name"], "arguments": ""}}]})  # type: ignore[index]
            deltas += [{"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
                       for piece in re.findall(r".{1,12}", call["arguments"])]  # type: ignore[index]
        else:
            deltas += [{"content": piece} for piece in re.findall(r"\S+\s*", text or "")]
        events: list[tuple[str | None, Any]] = [
            (None, {**chunk, "choices": [{"index": 0, "delta": d, "finish_reason": None}]}) for d in deltas]
        events.append((None, {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append((None, {**chunk, "choices": [], "usage": usage}))
        events.append((None, "[DONE]"))
        self._stream(events)

    def _structured(self, body: dict[str, Any], schema: Any, prompt: str) -> str:
        """Judge mode: the scripted verdict, else JSON that fits the schema; faults spoil either."""
        script = self.server.model.judge
        reply = script(body) if script else None
        reply = _fill_schema(schema, _digest(prompt)) if reply is None else reply
        if self.fault == "invalid_json":
            return 'Sure! My verdict: {"label": grounded, rationale: "the answer'
        if self.fault == "bad_label":
            reply = _break_enum(schema, reply)
        return reply if isinstance(reply, str) else json.dumps(reply)

    def _responses(self, body: dict[str, Any]) -> None:
        items = body.get("input")
        items = [{"role": "user", "content": items}] if isinstance(items, str) else items or []
        items = [i for i in items if isinstance(i, dict)]
        prompt = "\n".join([str(body.get("instructions") or "")] +
                           [_text(i.get("content", i.get("output"))) for i in items])
        name = str(body.get("model") or "gpt-4o-mini")
        last = items[-1] if items else {}
        call = None
        if body.get("tools") and last.get("role") == "user":
            call = _tool_call(body["tools"], _text(last.get("content")), body.get("tool_choice"), flat=True)
        rid = f"resp_{_digest(prompt):016x}"
        if call:
            item: dict[str, Any] = {"type": "function_call", "id": f"fc_{rid[5:]}", "call_id": call["id"],
                                    "name": call["name"], "arguments": call["arguments"], "status": "completed"}
            text = call["arguments"]
        else:
            text = answer(prompt)
            item = {"type": "message", "id": f"msg_{rid[5:]}", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}]}
        usage = _usage(tokens(prompt), tokens(text), name, self.server.model.cache_threshold, responses=True)
        response = {"id": rid, "object": "response", "created_at": int(time.time()), "status": "completed",
                    "model": _snapshot(name), "output": [item], "usage": usage, "error": None,
                    "instructions": body.get("instructions"), "tools": body.get("tools") or [],
                    "tool_choice": body.get("tool_choice", "auto"), "parallel_tool_calls": True,
                    "temperature": body.get("temperature", 1.0), "top_p": body.get("top_p", 1.0),
                    "incomplete_details": None, "metadata": {}, "text": {"format": {"type": "text"}}}
        if not body.get("stream"):
            return self._send(200, response)
        start = {**response, "status": "in_progress", "output": [], "usage": None}
        events: list[tuple[str | None, Any]] = [("response.created", {"response": start}),
                                                ("response.output_item.added", {"output_index": 0, "item": item})]
        if not call:
            events += [("response.output_text.delta", {"item_id": item["id"], "output_index": 0,
                                                       "content_index": 0, "delta": piece, "logprobs": []})
                       for piece in re.findall(r"\S+\s*", text)]
            events.append(("response.output_text.done", {"item_id": item["id"], "output_index": 0,
                                                         "content_index": 0, "text": text, "logprobs": []}))
        events += [("response.output_item.done", {"output_index": 0, "item": item}),
                   ("response.completed", {"response": response})]
        self._stream([(e, {"type": e, "sequence_number": n, **d}) for n, (e, d) in enumerate(events)])

    def _embed(self, body: dict[str, Any]) -> None:
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str | int) or (texts and isinstance(texts[0], int)) else texts or []
        dims = body.get("dimensions") if isinstance(body.get("dimensions"), int) else 64
        data = []
        for i, text in enumerate(texts):
            seed = hashlib.sha256(str(text).encode()).digest()
            raw = [(seed[j % 32] ^ (j * 131 % 256)) / 127.5 - 1.0 for j in range(max(1, min(dims, 4096)))]
            norm = sum(x * x for x in raw) ** 0.5 or 1.0
            vector: Any = [x / norm for x in raw]
            if body.get("encoding_format") == "base64":  # what the openai client asks for by default
                vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": vector})
        used = sum(tokens(str(t)) for t in texts)
        self._send(200, {"object": "list", "data": data, "model": str(body.get("model") or "text-embedding-3-small"),
                         "usage": {"prompt_tokens": used, "total_tokens": used}})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    model: LocalModel

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that timed out and hung up
            super().handle_error(request, client_address)


class LocalModel:
    """The server in a background thread. `start()` returns the base URL (ending in /v1)."""

    def __init__(self, faults: Faults | None = None, cache_threshold: int = 1024,
                 judge: Callable[[dict[str, Any]], Any] | None = None,
                 respond: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.faults = faults or Faults()
        self.cache_threshold = cache_threshold
        self.judge = judge
        self.respond = respond
        self.requests: deque[dict[str, Any]] = deque(maxlen=1000)  # what clients sent, newest last
        self.base_url = ""
        self._server: _Server | None = None
        self._count = 0
        self._lock = threading.Lock()

    def next_fault(self) -> str | None:
        with self._lock:
            self._count += 1
            n, f = self._count, self.faults
        if f.delay_s:
            time.sleep(f.delay_s)
        if f.stall_every and n % f.stall_every == 0:
            time.sleep(f.stall_s)
        if n <= f.rate_limit_first or (f.rate_limit_every and n % f.rate_limit_every == 0):
            return "rate_limit"
        for name, every in (("malformed", f.malformed_every), ("error", f.error_every),
                            ("invalid_json", f.invalid_json_every), ("bad_label", f.bad_label_every)):
            if every and n % every == 0:
                return name
        return None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = _Server((host, port), _Handler)
        self._server.model = self
        # A short poll interval: stop() then returns in 50 ms instead of 500 (tests start many servers).
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="local-model", daemon=True).start()
        self.base_url = f"http://{host}:{self._server.server_address[1]}/v1"
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run Loupe's local OpenAI-compatible model server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011)
    args = parser.parse_args(argv)
    model = LocalModel()
    print(f"local model listening on {model.start(args.host, args.port)}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        model.stop()


if __name__ == "__main__":
    main()
