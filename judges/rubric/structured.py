"""`json_valid` and `json_schema`: is the output JSON, and does it fit a schema?

Both accept the JSON on its own or inside a Markdown code fence (```json ... ```), since models
often wrap structured answers that way. Value 1.0 = pass, higher_is_better. The schema subset is
described in `judges/rubric/schema.py`; unsupported keywords are rejected when the config is loaded.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import Field, field_validator

from judges.core import Target
from judges.rubric.base import Rubric, SingleFieldConfig, field_text
from judges.rubric.schema import SchemaError, check_schema, validate

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\r?\n(.*?)\r?\n?[ \t]*```", re.S)
_JSON_LANGS = {"json", "jsonc", "json5", "javascript", "js", ""}


def parse_json(text: str, allow_fenced: bool = True) -> tuple[Any, str, str]:
    """(value, error, where): error is empty on success; where says whether it came from a fence."""
    body = text.strip()
    try:
        return json.loads(body), "", "whole text"
    except json.JSONDecodeError as exc:
        error = f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        return None, "not valid JSON: nested too deeply", "whole text"
    if allow_fenced and "```" in body:
        blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(body)]
        block = next((b for lang, b in blocks if lang == "json"), None) or next(
            (b for lang, b in blocks if lang in _JSON_LANGS), None)
        if block is not None:
            try:
                return json.loads(block), "", "```json block"
            except json.JSONDecodeError as exc:
                return None, f"fenced block is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", ""
            except RecursionError:
                return None, "fenced block is not valid JSON: nested too deeply", ""
    if not body:
        error = "empty text"
    return None, error, ""


class JsonValidConfig(SingleFieldConfig):
    allow_fenced: bool = True


class JsonValid(Rubric):
    """The field parses as JSON (on its own, or in a ```json fence when allow_fenced)."""

    kind = "json_valid"
    Config = JsonValidConfig

    def check(self, target: Target) -> tuple[bool, str]:
        cfg = self.config
        assert isinstance(cfg, JsonValidConfig)
        _, error, where = parse_json(field_text(target, cfg.field[0]), cfg.allow_fenced)
        return (False, error) if error else (True, f"valid JSON ({where})")


class JsonSchemaConfig(JsonValidConfig):
    schema_: dict[str, Any] = Field(alias="schema")  # `schema` would shadow a BaseModel attribute

    @field_validator("schema_")
    @classmethod
    def _supported(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            check_schema(value)
        except SchemaError as exc:
            raise ValueError(str(exc)) from None
        return value


class JsonSchema(Rubric):
    """The field is JSON that validates against `schema` (see schema.py for the supported subset)."""

    kind = "json_schema"
    Config = JsonSchemaConfig

    def check(self, target: Target) -> tuple[bool, str]:
        cfg = self.config
        assert isinstance(cfg, JsonSchemaConfig)
        value, error, where = parse_json(field_text(target, cfg.field[0]), cfg.allow_fenced)
        if error:
            return False, error
        errors = validate(value, cfg.schema_)
        if errors:
            more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
            return False, "; ".join(errors[:3]) + more
        return True, f"valid against the schema ({where})"
