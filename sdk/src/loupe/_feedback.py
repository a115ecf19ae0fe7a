"""End-user feedback: scores POSTed to the collector's `/api/scores` from one background thread.

A bounded queue and one daemon thread (started on first use): the app's call only enqueues, and a
slow or absent collector costs it nothing. Standard library HTTP, so the SDK adds no dependency.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from loupe import _state

MAX_PENDING = 1000
_STOP = object()


class FeedbackSender:
    def __init__(self, url: str, api_key: str | None, timeout_s: float) -> None:
        self._url = url
        self._headers = {"Content-Type": "application/json", "User-Agent": "loupe-sdk"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = timeout_s
        self._queue: queue.Queue[Any] = queue.Queue(MAX_PENDING)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    def submit(self, payload: dict[str, Any]) -> bool:
        if self._closed:
            return False
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="loupe-feedback", daemon=True)
                self._thread.start()
        try:
            self._queue.put_nowait(payload)
            return True
        except queue.Full:
            self.dropped += 1
            _state.log_once("feedback-full", "feedback queue full, dropping feedback", exc_info=False)
            return False

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                self._post(item)
            finally:
                self._queue.task_done()

    def _post(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, default=str).encode()
        request = urllib.request.Request(self._url, data=body, headers=self._headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                response.read()
            self.sent += 1
        except Exception as exc:  # HTTP errors, refused connections, timeouts: count and carry on
            self.failed += 1
            detail = f"HTTP {exc.code}" if isinstance(exc, urllib.error.HTTPError) else type(exc).__name__
            _state.log_once("feedback-post", "could not send feedback to %s (%s)", self._url, detail, exc_info=False)

    def flush(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        cond = self._queue.all_tasks_done
        with cond:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                cond.wait(remaining)
        return True

    def shutdown(self, timeout_s: float) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self.flush(timeout_s)
            try:
                self._queue.put_nowait(_STOP)
            except queue.Full:
                pass


def payload(trace_id: str, name: str, value: Any, comment: str | None, user_id: str | None) -> dict[str, Any]:
    body = {"target_type": "trace", "target_id": trace_id, "name": name, "value": value, "source": "user_feedback"}
    # Absent rather than null: the collector's comment and author are strings that default to "".
    if comment is not None:
        body["comment"] = comment
    if user_id is not None:
        body["author"] = user_id
    return body
