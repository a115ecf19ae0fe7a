"""A segment of traffic (service, model, prompt, environment) as SQL over `spans`, and as a stable key.

Span-level on purpose: model and prompt version belong to the LLM call, not to the trace. A prompt is
`name` or `name:version`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Segment:
    service: str | None = None
    model: str | None = None
    prompt: str | None = None  # name or name:version
    environment: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Segment:
        data = data or {}
        unknown = set(data) - {"service", "model", "prompt", "environment"}
        if unknown:
            raise ValueError(f"unknown segment keys {sorted(unknown)}: use service, model, prompt, environment")
        return cls(**{k: (str(v) if v not in (None, "") else None) for k, v in data.items()})

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}

    @property
    def key(self) -> str:
        """Stable text key for tables ("" is all traffic)."""
        return ";".join(f"{k}={v}" for k, v in sorted(self.as_dict().items()))

    @classmethod
    def from_key(cls, key: str) -> Segment:
        return cls.from_dict(dict(part.split("=", 1) for part in key.split(";") if part))

    def span_where(self, params: dict[str, Any], prefix: str = "seg") -> list[str]:
        """Conditions on `spans` columns; parameters are added to `params`."""
        where = []
        if self.service:
            params[f"{prefix}_service"] = self.service
            where.append(f"service_name = {{{prefix}_service:String}}")
        if self.environment:
            params[f"{prefix}_env"] = self.environment
            where.append(f"environment = {{{prefix}_env:String}}")
        if self.model:
            params[f"{prefix}_model"] = self.model
            where.append(f"(response_model = {{{prefix}_model:String}} OR request_model = {{{prefix}_model:String}})")
        if self.prompt:
            name, _, version = self.prompt.partition(":")
            params[f"{prefix}_pname"] = name
            where.append(f"prompt_name = {{{prefix}_pname:String}}")
            if version:
                params[f"{prefix}_pversion"] = version
                where.append(f"prompt_version = {{{prefix}_pversion:String}}")
        return where

    def describe(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.as_dict().items()) or "all traffic"


ALL_TRAFFIC = Segment()
