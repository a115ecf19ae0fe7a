"""Prompt versions: `with loupe.prompt(name, version, template, variables) as p:` marks every model
call started inside with the prompt's name, version, template and variables."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from loupe import _state
from loupe import attributes as A
from loupe._context import pop, push
from loupe._encode import clip, to_json

_MUSTACHE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")
_SINGLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Prompt:
    """A named, versioned template with its variables.

    `format()` fills `{{ name }}` placeholders (or `{name}` ones when the template has no double
    braces); unknown placeholders and other braces are left as they are, so it never raises.
    """

    __slots__ = ("name", "version", "template", "variables")

    def __init__(
        self,
        name: str,
        version: str | int | None = None,
        template: str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.version = None if version is None else str(version)
        self.template = template
        self.variables: dict[str, Any] = dict(variables or {})

    def __repr__(self) -> str:
        return f"Prompt(name={self.name!r}, version={self.version!r})"

    def format(self, **overrides: Any) -> str:
        """The template with the variables (and any `overrides`) filled in."""
        template = self.template or ""
        values = {**self.variables, **overrides}
        pattern = _MUSTACHE if "{{" in template else _SINGLE

        def fill(match: re.Match[str]) -> str:
            key = match.group(1)
            return str(values[key]) if key in values else match.group(0)

        return pattern.sub(fill, template)

    def attributes(self) -> dict[str, Any]:
        active = _state.current
        attrs: dict[str, Any] = {A.PROMPT_NAME: self.name}
        if self.version is not None:
            attrs[A.PROMPT_VERSION] = self.version
        if self.template is not None:
            attrs[A.PROMPT_TEMPLATE] = clip(self.template, active.max_chars, active.redact)
        if self.variables and active.capture_content:
            attrs[A.PROMPT_VARIABLES] = to_json(self.variables, active.max_chars, active.redact)
        return attrs

    def __enter__(self) -> Prompt:
        try:
            push(self, prompt_attributes=self.attributes())
        except Exception:
            _state.log_once("prompt", "could not activate a prompt")
        return self

    def __exit__(self, *exc: object) -> None:
        pop(self)


def prompt(
    name: str,
    version: str | int | None = None,
    template: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Prompt:
    """A prompt version; use it as a context manager so model calls inside are attributed to it."""
    return Prompt(name, version, template, variables)
