"""A small JSON Schema validator for the subset that structured LLM output uses (no dependency).

Supported: type (incl. lists of types), enum, const, properties, required, additionalProperties
(false or a schema), minProperties/maxProperties, items (one schema), minItems/maxItems, uniqueItems,
minLength/maxLength, pattern (Python `re` syntax), minimum/maximum, exclusiveMinimum/exclusiveMaximum
(numbers, draft 6+), multipleOf, anyOf/oneOf/allOf/not, and local `$ref` ("#/$defs/...",
"#/definitions/...") as Pydantic and OpenAI structured outputs emit them.
Annotations (title, description, default, examples, format, $schema, $id, $comment, ...) are accepted
and ignored; `format` is not asserted. Not supported (rejected when the schema is loaded, so nobody
gets a silent pass): if/then/else, patternProperties, propertyNames, dependentRequired,
dependentSchemas, dependencies, prefixItems, items as a list, contains, unevaluated*, remote $ref,
$dynamicRef.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_ASSERTIONS = {
    "type", "enum", "const", "properties", "required", "additionalProperties", "minProperties", "maxProperties",
    "items", "minItems", "maxItems", "uniqueItems", "minLength", "maxLength", "pattern", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "anyOf", "oneOf", "allOf", "not", "$ref",
}
_ANNOTATIONS = {
    "$schema", "$id", "$comment", "$defs", "definitions", "title", "description", "default", "examples", "format",
    "deprecated", "readOnly", "writeOnly", "contentMediaType", "contentEncoding", "nullable", "discriminator",
}
_TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}
_MAX_ERRORS = 10


class SchemaError(ValueError):
    """The schema itself uses something this validator does not implement, or is malformed."""


def check_schema(schema: Any, path: str = "#", root: Any = None) -> None:
    """Raise SchemaError for unsupported keywords or malformed values, naming where they are."""
    root = schema if root is None else root
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise SchemaError(f"{path}: a schema must be an object or a boolean, got {type(schema).__name__}")
    unknown = sorted(set(schema) - _ASSERTIONS - _ANNOTATIONS)
    if unknown:
        raise SchemaError(f"{path}: unsupported JSON Schema keywords {unknown}; supported: {sorted(_ASSERTIONS)}")
    types = schema.get("type")
    if types is not None and not set([types] if isinstance(types, str) else types) <= _TYPES:
        raise SchemaError(f"{path}/type: {types!r} is not a JSON Schema type ({sorted(_TYPES)})")
    if "pattern" in schema:
        try:
            re.compile(schema["pattern"])
        except (re.error, TypeError) as exc:
            raise SchemaError(f"{path}/pattern: not a valid regex: {exc}") from None
    if "$ref" in schema:
        _resolve(root, schema["$ref"], path)
    if "items" in schema and isinstance(schema["items"], list):
        raise SchemaError(f"{path}/items: a list of item schemas (tuple validation) is not supported")
    for key in ("properties", "$defs", "definitions"):
        for name, sub in (schema.get(key) or {}).items():
            check_schema(sub, f"{path}/{key}/{name}", root)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), dict):
            check_schema(schema[key], f"{path}/{key}", root)
    for key in ("anyOf", "oneOf", "allOf"):
        for i, sub in enumerate(schema.get(key) or ()):
            check_schema(sub, f"{path}/{key}/{i}", root)


def _resolve(root: Any, ref: str, path: str) -> Any:
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise SchemaError(f"{path}/$ref: only local references ('#/...') are supported, got {ref!r}")
    node = root
    for part in filter(None, ref[1:].split("/")):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise SchemaError(f"{path}/$ref: {ref!r} does not resolve")
        node = node[part]
    return node


def _type_ok(value: Any, name: str) -> bool:
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):  # JSON true is not the number 1
        return False
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return isinstance(value, {"object": dict, "array": list, "string": str, "number": int | float}[name])


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):  # JSON true is not 1
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):  # 1 and 1.0 are the same JSON number
        return a == b
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def validate(value: Any, schema: Any, root: Any = None, path: str = "$") -> list[str]:
    """Errors as `path: message`, at most a handful; an empty list means valid."""
    root = schema if root is None else root
    errors: list[str] = []
    _walk(value, schema, root, path, errors)
    return errors[:_MAX_ERRORS]


def _walk(value: Any, schema: Any, root: Any, path: str, errors: list[str]) -> None:
    if len(errors) >= _MAX_ERRORS or schema is True:
        return
    if schema is False:
        errors.append(f"{path}: no value is allowed here")
        return
    if "$ref" in schema:
        _walk(value, _resolve(root, schema["$ref"], path), root, path, errors)
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not any(_type_ok(value, t) for t in names):
            errors.append(f"{path}: expected {' or '.join(names)}, got {_json_type(value)}")
            return
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        errors.append(f"{path}: {_short(value)} is not one of {_short(schema['enum'])}")
    if "const" in schema and not _same(value, schema["const"]):
        errors.append(f"{path}: must be {_short(schema['const'])}")
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            passing = sum(not validate(value, sub, root, path) for sub in schema[key])
            total = len(schema[key])
            if (key == "allOf" and passing < total) or (key == "anyOf" and not passing) or (
                    key == "oneOf" and passing != 1):
                errors.append(f"{path}: matches {passing} of the {total} schemas in {key}")
    if "not" in schema and not validate(value, schema["not"], root, path):
        errors.append(f"{path}: must not match the schema in `not`")
    if isinstance(value, dict):
        _object(value, schema, root, path, errors)
    elif isinstance(value, list):
        _array(value, schema, root, path, errors)
    elif isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{path}: shorter than minLength {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: longer than maxLength {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: does not match pattern {schema['pattern']!r}")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _number(value, schema, path, errors)


def _object(value: dict[str, Any], schema: dict[str, Any], root: Any, path: str, errors: list[str]) -> None:
    props = schema.get("properties") or {}
    for name in schema.get("required") or ():
        if name not in value:
            errors.append(f"{path}: missing required property {name!r}")
    for name, item in value.items():
        if name in props:
            _walk(item, props[name], root, f"{path}.{name}", errors)
        elif schema.get("additionalProperties") is False:
            errors.append(f"{path}: unexpected property {name!r}")
        elif isinstance(schema.get("additionalProperties"), dict):
            _walk(item, schema["additionalProperties"], root, f"{path}.{name}", errors)
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        errors.append(f"{path}: fewer than {schema['minProperties']} properties")
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        errors.append(f"{path}: more than {schema['maxProperties']} properties")


def _array(value: list[Any], schema: dict[str, Any], root: Any, path: str, errors: list[str]) -> None:
    if "minItems" in schema and len(value) < schema["minItems"]:
        errors.append(f"{path}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{path}: more than {schema['maxItems']} items")
    if schema.get("uniqueItems") and len({json.dumps(v, sort_keys=True) for v in value}) < len(value):
        errors.append(f"{path}: items are not unique")
    if isinstance(schema.get("items"), dict | bool):
        for i, item in enumerate(value):
            _walk(item, schema["items"], root, f"{path}[{i}]", errors)


def _number(value: float, schema: dict[str, Any], path: str, errors: list[str]) -> None:
    checks = (("minimum", value < schema.get("minimum", -math.inf), "less than minimum"),
              ("maximum", value > schema.get("maximum", math.inf), "greater than maximum"),
              ("exclusiveMinimum", value <= schema.get("exclusiveMinimum", -math.inf), "not greater than"),
              ("exclusiveMaximum", value >= schema.get("exclusiveMaximum", math.inf), "not less than"))
    for key, failed, words in checks:
        if key in schema and failed:
            errors.append(f"{path}: {value} is {words} {schema[key]}")
    step = schema.get("multipleOf")
    if step and not math.isclose(value / step, round(value / step), abs_tol=1e-9):
        errors.append(f"{path}: {value} is not a multiple of {step}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {dict: "object", list: "array", str: "string", int: "integer", float: "number"}.get(type(value), "value")


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
