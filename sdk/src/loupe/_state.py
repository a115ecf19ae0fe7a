"""The one piece of process state the hot path reads, and the log-once helper.

Everything a decorated call needs sits on one `Active` object behind one module global, so a call
costs one global load and a few attribute reads; `init()`/`shutdown()` swap the object whole.
"""

from __future__ import annotations

import logging
import threading

from opentelemetry import trace

from loupe._version import __version__
from loupe.config import DEFAULT_MAX_CONTENT_CHARS, Redactor

logger = logging.getLogger("loupe")
SCOPE = "loupe"  # instrumentation scope of every span the SDK creates

_logged: set[str] = set()
_logged_lock = threading.Lock()


def log_once(key: str, message: str, *args: object, exc_info: bool = True) -> None:
    """Warn the first time `key` happens; the SDK's broad excepts all end here."""
    with _logged_lock:
        if key in _logged:
            return
        _logged.add(key)
    try:
        logger.warning("loupe: " + message + " (further occurrences are not logged)", *args, exc_info=exc_info)
    except Exception:  # a broken logging config must not break the app either
        pass


class Active:
    """What spans are created with right now."""

    __slots__ = ("enabled", "tracer", "capture_content", "redact", "max_chars")

    def __init__(
        self,
        *,
        enabled: bool,
        tracer: trace.Tracer,
        capture_content: bool = True,
        redact: Redactor | None = None,
        max_chars: int = DEFAULT_MAX_CONTENT_CHARS,
    ) -> None:
        self.enabled = enabled
        self.tracer = tracer
        self.capture_content = capture_content
        self.redact = redact
        self.max_chars = max_chars


# Before `init()` spans go to whatever global TracerProvider the app has (a no-op one if none):
# decorators applied at import time then work the same with Loupe or with plain OpenTelemetry.
UNINITIALISED = Active(enabled=True, tracer=trace.get_tracer(SCOPE, __version__))
current: Active = UNINITIALISED
