"""The malformed inputs of issue 10, generated from the models' schemas.

A case is one payload for one event with what the hub owes in return:
`refused` (an `ok: false` ack with a contract code), `answered` (any ack
but `internal`: the mutation is well-typed, the hub may accept it or refuse
it for a reason of state) or `too_large`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.fuzz.schema import Raw, conforms, sample, variants

REFUSED, ANSWERED, TOO_LARGE = "refused", "answered", "too_large"

# Wrong JSON types and numbers at the edges, for every field.
WRONG_VALUES: list[tuple[str, Any]] = [
    ("bool", True), ("str-int", "1"), ("float", 1.5), ("list", []), ("dict", {}), ("null", None),
    ("huge-int", 10**100), ("int64-overflow", 2**63), ("neg", -1), ("zero", 0),
    ("nan", Raw("NaN")), ("inf", Raw("1e400")), ("5000-digit-int", Raw("9" * 5000)),
    ("nested-1000", Raw("[" * 1000 + "]" * 1000)),
]

# Text that must never reach a database: refused whatever the schema says.
POISON_TEXT: list[tuple[str, str]] = [
    ("nul", "ab\x00cd"), ("lone-surrogate", "a\ud800b"), ("low-surrogate", "\udfff"),
]
# Odd but storable text: the hub may take it or refuse it, never crash.
ODD_TEXT: list[tuple[str, str]] = [
    ("control", "a\x01\x07\x1b[31m\x7fb\r\n\t"), ("bidi-zero-width-emoji", "\u202e\u200b\ufeffx👍🏽"),
    ("combining", "e" + "\u0301" * 50), ("empty", ""), ("blank", "   "),
]

ID_FIELDS = {"vote_id", "document_id", "participant_id", "batch_id", "respondent", "participant", "respondents"}


@dataclass(frozen=True)
class Case:
    event: str
    variant: str
    label: str
    body: str  # JSON text of the payload
    expect: str

    def __str__(self) -> str:
        where = f"{self.event}[{self.variant}]" if self.variant else self.event
        return f"{where} {self.label}"


def dump(value: Any) -> str:
    """JSON text with Raw literals inlined; lone surrogates escaped as \\udxxx."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dump(v) for v in value) + "]"
    return json.dumps(value)


def _string_leaves(value: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(value, str):
        return [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _string_leaves(v, path + (i,))]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _string_leaves(v, path + (k,))]
    return []


def _replace(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        return [(_replace(v, rest, new) if i == head else v) for i, v in enumerate(value)]
    return {k: (_replace(v, rest, new) if k == head else v) for k, v in value.items()}


def _example(name: str, prop: dict, defs: dict, ids: dict) -> Any:
    """A valid value for a property, with a string in it to poison where the type allows."""
    value = sample(prop, defs, name, ids)
    if name == "sources":
        return {"track-1": "camera"}
    return value


def event_cases(event: str, model, ids: dict[str, Any], foreign: dict[str, Any]) -> list[Case]:
    """Every light case for one event: wrong shapes, wrong types, poisoned text, bad ids.

    `ids` maps field names to real ids of this meeting (the base payload is
    then well-formed), `foreign` to ids of another meeting."""
    cases: list[Case] = []
    for variant, shape, defs in variants(model.model_json_schema()):
        def check(label: str, payload: Any, expect: str | None = None) -> None:
            if expect is None:
                expect = ANSWERED if conforms(payload, shape, defs) else REFUSED
            cases.append(Case(event, variant, label, dump(payload), expect))

        props = shape.get("properties", {})
        required = shape.get("required", [])
        base = sample(shape, defs, "", ids)
        # Not an object at all.
        for label, value in [("string", "hello"), ("list", [1, 2, 3]), ("number", 42), ("bool", True),
                             ("float", 1.5), ("huge-int", 10**100), ("nested-list-1000", Raw("[" * 1000 + "]" * 1000))]:
            check(f"payload:{label}", value, REFUSED)
        # null is what a client sends with no payload: the same as {}.
        check("payload:null", None, ANSWERED if not required else REFUSED)
        check("payload:empty-object", {}, ANSWERED if not required else REFUSED)
        check("unknown-field", {**base, "zz_unknown": 1}, REFUSED)
        check("unknown-field-nul-key", {**base, "a\x00": 1}, REFUSED)
        check("unknown-field-deep", {**base, "zz": Raw('{"a":' * 1000 + "1" + "}" * 1000)}, REFUSED)
        for name in required:
            if "const" in props.get(name, {}):
                continue  # the discriminator: without it the payload is another case below
            check(f"missing:{name}", {k: v for k, v in base.items() if k != name}, REFUSED)
        for name, prop in props.items():
            if "const" in prop:
                check(f"{name}:unknown-action", {**base, name: "zz_nope"}, REFUSED)
                check(f"{name}:nul", {**base, name: prop["const"] + "\x00"}, REFUSED)
                continue
            for label, wrong in WRONG_VALUES:
                check(f"{name}:{label}", {**base, name: wrong})
            example = _example(name, prop, defs, ids)
            for path in _string_leaves(example):
                where = name + "".join(f"[{p!r}]" for p in path)
                for label, text in POISON_TEXT:
                    check(f"{where}:{label}", {**base, name: _replace(example, path, text)}, REFUSED)
                for label, text in ODD_TEXT:
                    check(f"{where}:{label}", {**base, name: _replace(example, path, text)})
                long_text = "L" * 100_000
                check(f"{where}:long-100k", {**base, name: _replace(example, path, long_text)})
            if isinstance(example, list) and example:
                check(f"{name}:many-items", {**base, name: example * 10_000})
            if name in ID_FIELDS:
                unknown = "zz" + "0" * 20
                other = foreign.get(name)
                for label, value in [("unknown-id", unknown), ("other-meeting-id", other)]:
                    if value is None:
                        continue
                    value = [value] if isinstance(example, list) else value
                    check(f"{name}:{label}", {**base, name: value}, REFUSED)
    return cases


def heavy_cases(event: str, model, ids: dict[str, Any]) -> list[Case]:
    """The costly ones, sent once per event: 20,000-deep nesting, 1.5 MiB messages."""
    variant, shape, defs = variants(model.model_json_schema())[0]
    base = sample(shape, defs, "", ids)
    deep = Raw("[" * 20_000 + "]" * 20_000)
    deep_obj = Raw('{"a":' * 20_000 + "1" + "}" * 20_000)
    cases = [
        Case(event, variant, "payload:nested-list-20000", deep.text, REFUSED),
        Case(event, variant, "unknown-field:nested-obj-20000", dump({**base, "zz": deep_obj}), REFUSED),
        Case(event, variant, "oversized-1.5MiB", dump({**base, "zz_pad": "P" * (3 << 19)}), TOO_LARGE),
    ]
    for name in shape.get("properties", {}):
        if "const" not in shape["properties"][name]:
            cases.append(Case(event, variant, f"{name}:nested-list-20000", dump({**base, name: deep}), REFUSED))
            break
    return cases
