"""Settings for `loupe.init()`: each argument, its environment variable and its default.

Precedence is explicit and the same for every setting: the argument passed to `init()`, then the
`LOUPE_*` environment variable, then the default below. An unparsable environment value is
ignored with a warning (the default applies) rather than breaking the app at start-up.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_log = logging.getLogger("loupe")

LOUPE_ENDPOINT = "LOUPE_ENDPOINT"
"""Base URL of the Loupe collector; spans go to ``{endpoint}/v1/traces``, feedback to
``{endpoint}/api/scores``. Default ``http://127.0.0.1:4318``."""

LOUPE_API_KEY = "LOUPE_API_KEY"
"""Project API key with the ``ingest`` scope, sent as ``Authorization: Bearer <key>``. Default: none."""

LOUPE_SERVICE = "LOUPE_SERVICE"
"""Resource ``service.name``. Default: OpenTelemetry's own (``OTEL_SERVICE_NAME``, else
``unknown_service``)."""

LOUPE_SERVICE_VERSION = "LOUPE_SERVICE_VERSION"
"""Resource ``service.version``. Default: the release, if one is set."""

LOUPE_ENVIRONMENT = "LOUPE_ENVIRONMENT"
"""Resource ``deployment.environment.name`` (``production``, ``staging``…). Default: none."""

LOUPE_RELEASE = "LOUPE_RELEASE"
"""Resource ``loupe.release`` (a git sha or a version tag). Default: none."""

LOUPE_SAMPLE_RATE = "LOUPE_SAMPLE_RATE"
"""Fraction of traces kept, 0.0–1.0, decided per trace id. Default ``1.0``."""

LOUPE_CAPTURE_CONTENT = "LOUPE_CAPTURE_CONTENT"
"""``true``/``false``: record prompts, completions, inputs, outputs, documents and tool arguments.
Default ``true``."""

LOUPE_REDACT = "LOUPE_REDACT"
"""``package.module:function`` of a ``(str) -> str`` applied to every captured string. Default: none."""

LOUPE_ENABLED = "LOUPE_ENABLED"
"""``false`` turns the whole SDK into a no-op: no spans, no threads, no network. Default ``true``."""

LOUPE_MAX_QUEUE_SIZE = "LOUPE_MAX_QUEUE_SIZE"
"""Spans held in memory waiting for export; beyond it new spans are dropped and counted.
Default ``2048``."""

LOUPE_EXPORT_TIMEOUT = "LOUPE_EXPORT_TIMEOUT"
"""Seconds one export (retries included) may take, in the background thread. Default ``3``."""

LOUPE_MAX_CONTENT_CHARS = "LOUPE_MAX_CONTENT_CHARS"
"""Upper bound on the characters of one captured content attribute. Default ``65536``."""

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"
DEFAULT_SAMPLE_RATE = 1.0
DEFAULT_MAX_QUEUE_SIZE = 2048
DEFAULT_EXPORT_TIMEOUT_S = 3.0
DEFAULT_MAX_CONTENT_CHARS = 65_536

Redactor = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Settings:
    endpoint: str
    api_key: str | None
    service: str | None
    service_version: str | None
    environment: str | None
    release: str | None
    sample_rate: float
    capture_content: bool
    redact: Redactor | None
    enabled: bool
    max_queue_size: int
    export_timeout_s: float
    max_content_chars: int

    @property
    def traces_url(self) -> str:
        return f"{self.endpoint}/v1/traces"

    @property
    def scores_url(self) -> str:
        return f"{self.endpoint}/api/scores"


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value.strip() if value and value.strip() else None


def _bool(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    _log.warning("loupe: ignoring %s=%r (expected true/false)", name, raw)
    return default


def _number(name: str, default: float, cast: Callable[[str], Any], low: float, high: float) -> Any:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = cast(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        _log.warning("loupe: ignoring %s=%r (expected a number in [%s, %s])", name, raw, low, high)
        return default
    return value


def _import_redactor(spec: str) -> Redactor | None:
    module_name, _, attr = spec.partition(":")
    try:
        func = getattr(importlib.import_module(module_name), attr)
    except Exception:  # a bad setting must not stop the app from starting
        _log.warning("loupe: cannot import %s=%r (expected package.module:function)", LOUPE_REDACT, spec)
        return None
    return func if callable(func) else None


def resolve(
    *,
    endpoint: str | None = None,
    api_key: str | None = None,
    service: str | None = None,
    service_version: str | None = None,
    environment: str | None = None,
    release: str | None = None,
    sample_rate: float | None = None,
    capture_content: bool | None = None,
    redact: Redactor | None = None,
    enabled: bool | None = None,
    max_queue_size: int | None = None,
    export_timeout_s: float | None = None,
    max_content_chars: int | None = None,
) -> Settings:
    """Merge arguments, environment and defaults into one `Settings`."""
    release = release or _env(LOUPE_RELEASE)
    redact_spec = _env(LOUPE_REDACT)
    if redact is None and redact_spec:
        redact = _import_redactor(redact_spec)
    if sample_rate is not None:
        sample_rate = min(1.0, max(0.0, float(sample_rate)))
    return Settings(
        endpoint=(endpoint or _env(LOUPE_ENDPOINT) or DEFAULT_ENDPOINT).rstrip("/"),
        api_key=api_key or _env(LOUPE_API_KEY),
        service=service or _env(LOUPE_SERVICE),
        service_version=service_version or _env(LOUPE_SERVICE_VERSION) or release,
        environment=environment or _env(LOUPE_ENVIRONMENT),
        release=release,
        sample_rate=(
            sample_rate if sample_rate is not None else _number(LOUPE_SAMPLE_RATE, DEFAULT_SAMPLE_RATE, float, 0.0, 1.0)
        ),
        capture_content=(capture_content if capture_content is not None else _bool(LOUPE_CAPTURE_CONTENT, True)),
        redact=redact,
        enabled=enabled if enabled is not None else _bool(LOUPE_ENABLED, True),
        max_queue_size=max(
            1,
            max_queue_size or _number(LOUPE_MAX_QUEUE_SIZE, DEFAULT_MAX_QUEUE_SIZE, int, 1, 10_000_000),
        ),
        export_timeout_s=(
            export_timeout_s
            if export_timeout_s is not None
            else _number(LOUPE_EXPORT_TIMEOUT, DEFAULT_EXPORT_TIMEOUT_S, float, 0.1, 600.0)
        ),
        max_content_chars=max(
            256,
            max_content_chars or _number(LOUPE_MAX_CONTENT_CHARS, DEFAULT_MAX_CONTENT_CHARS, int, 256, 100_000_000),
        ),
    )
