"""What a well-typed payload looks like, read from the pydantic models' JSON Schema.

The fuzz needs an oracle that is not the code under test: a mutated payload
that breaks the model's published schema (type, bounds, length, pattern,
required, additional properties) must be refused, whatever pydantic's lax
mode would coerce. A mutation the schema allows may be accepted or refused
for a reason of state (unknown id, wrong stage) — but never crash.
"""
from __future__ import annotations

import math
import re
from typing import Any


class Raw:
    """A JSON literal sent verbatim (NaN, 1e400, a 20,000-level nesting...)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:40]!r}{'…' if len(self.text) > 40 else ''})"


def resolve(schema: dict, defs: dict) -> dict:
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _type_ok(value: Any, kind: str) -> bool:
    match kind:
        case "null":
            return value is None
        case "boolean":
            return isinstance(value, bool)
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool) or (
                isinstance(value, float) and math.isfinite(value) and value.is_integer())
        case "number":
            return isinstance(value, (int, float)) and not isinstance(value, bool) and (
                not isinstance(value, float) or math.isfinite(value))
        case "string":
            return isinstance(value, str)
        case "array":
            return isinstance(value, (list, tuple))
        case "object":
            return isinstance(value, dict)
    return False


def conforms(value: Any, schema: dict, defs: dict) -> bool:
    """True when `value` satisfies the (pydantic-generated) JSON Schema."""
    if isinstance(value, Raw):
        return False  # NaN, Infinity, and hand-made frames are never valid data
    schema = resolve(schema, defs)
    if "anyOf" in schema:
        return any(conforms(value, s, defs) for s in schema["anyOf"])
    if "oneOf" in schema:
        return sum(conforms(value, s, defs) for s in schema["oneOf"]) == 1
    if "allOf" in schema:
        return all(conforms(value, s, defs) for s in schema["allOf"])
    if "const" in schema:
        return type(value) is type(schema["const"]) and value == schema["const"]
    if "enum" in schema:
        return any(type(value) is type(e) and value == e for e in schema["enum"])
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_type_ok(value, k) for k in kinds):
            return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and not value >= schema["minimum"]:
            return False
        if "maximum" in schema and not value <= schema["maximum"]:
            return False
        if "exclusiveMinimum" in schema and not value > schema["exclusiveMinimum"]:
            return False
        if "exclusiveMaximum" in schema and not value < schema["exclusiveMaximum"]:
            return False
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", math.inf):
            return False
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return False
    if isinstance(value, (list, tuple)):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", math.inf):
            return False
        prefix = schema.get("prefixItems", [])
        for i, item in enumerate(value):
            sub = prefix[i] if i < len(prefix) else schema.get("items", {})
            if sub is False or not conforms(item, sub, defs):
                return False
    if isinstance(value, dict):
        props = schema.get("properties", {})
        if any(k not in value for k in schema.get("required", [])):
            return False
        if len(value) > schema.get("maxProperties", math.inf):
            return False
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                if not conforms(item, props[key], defs):
                    return False
            elif extra is False:
                return False
            elif isinstance(extra, dict) and not conforms(item, extra, defs):
                return False
    return True


def sample(schema: dict, defs: dict, name: str = "", ids: dict[str, Any] | None = None) -> Any:
    """A schema-valid value for a field; `ids` supplies real ids by field name."""
    ids = ids or {}
    if name in ids:
        return ids[name]
    schema = resolve(schema, defs)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [s for s in schema[key] if resolve(s, defs).get("type") != "null"]
            return sample((branches or schema[key])[0], defs, name, ids)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        return max(1, math.ceil(low))
    if kind == "string":
        if "pattern" in schema:
            return "abcdefgh12"
        return "x" * max(1, schema.get("minLength", 1))
    if kind == "array":
        if "prefixItems" in schema:
            return [sample(s, defs, name, ids) for s in schema["prefixItems"]]
        item = sample(schema.get("items", {"type": "string"}), defs, name, ids)
        return [item] * max(1, schema.get("minItems", 1))
    if kind == "object":
        props = schema.get("properties", {})
        return {k: sample(props[k], defs, k, ids) for k in schema.get("required", [])}
    return "x"


def variants(model_schema: dict) -> list[tuple[str, dict, dict]]:
    """(label, object schema, defs) per shape: a discriminated union gives one per branch."""
    defs = model_schema.get("$defs", {})
    top = resolve(model_schema, defs)
    if "oneOf" in top or "anyOf" in top:
        out = []
        for branch in top.get("oneOf") or top.get("anyOf"):
            shape = resolve(branch, defs)
            consts = {k: v["const"] for k, v in shape.get("properties", {}).items() if "const" in v}
            label = ",".join(f"{k}={v}" for k, v in consts.items()) or shape.get("title", "?")
            out.append((label, shape, defs))
        return out
    return [("", top, defs)]
