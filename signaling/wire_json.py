"""The JSON codec of the Socket.IO wire: refuses hostile input fast, with a reason.

The stdlib decoder is fine for honest input, but a 20,000-deep `[[[[` raises
RecursionError and a 5,000-digit integer raises the int-string conversion
limit's ValueError deep inside python-socketio, which then drops the packet
(and its ack id) with a logged traceback. Here every refusal is one exception
type, `WireDecodeError`, carrying a message a client can read; the packet
decoder (signaling/wire.py) turns it into an `invalid` answer on the ack id.

Limits are far beyond anything the contract's events carry (an SDP string is
one value at depth 2; annotations are a few levels deep; JavaScript numbers
print in at most 24 characters).
"""
from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 32


class WireDecodeError(ValueError):
    """Input that is not JSON we accept; `str(exc)` says why, for the client."""


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise WireDecodeError(f"a number has {len(text)} characters; at most {MAX_NUMBER_CHARS} are accepted")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise WireDecodeError(f"a number has {len(text)} characters; at most {MAX_NUMBER_CHARS} are accepted")
    return float(text)


def _parse_constant(name: str) -> Any:
    # NaN and Infinity are Python extensions; JSON.stringify never sends them.
    raise WireDecodeError(f"{name} is not JSON")


# Bounds the work of one decode before it starts, at C speed: every value
# past the first follows a comma and every container opens with a bracket.
# (Brackets and commas inside strings count too: an over-estimate, and still
# far above the largest event, a 256-track list.) Without it a 1 MiB array
# of empty arrays took 300 ms to decode and check.
MAX_VALUES = 10_000

_decoder = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)


def _check_size(text: str) -> None:
    values = text.count(",") + text.count("[") + text.count("{")
    if values > MAX_VALUES:
        raise WireDecodeError(f"holds about {values} values; at most {MAX_VALUES} are accepted")


def _check_depth(value: Any) -> None:
    """Iterative, so the check itself cannot recurse; the C scanner has
    already refused anything near the interpreter's recursion limit."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise WireDecodeError(f"nested deeper than {MAX_DEPTH} levels")
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))


def loads(text: str | bytes | bytearray, **_ignored: Any) -> Any:
    """Like json.loads, but any refusal is a WireDecodeError with a reason."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise WireDecodeError("not UTF-8 text") from None
    if not isinstance(text, str):
        raise WireDecodeError("not text")
    _check_size(text)
    try:
        value = _decoder.decode(text)
    except WireDecodeError:
        raise
    except RecursionError:
        raise WireDecodeError(f"nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise WireDecodeError(f"not valid JSON: {exc.msg} at character {exc.pos}") from None
    except ValueError as exc:  # e.g. a float the float() parser refuses
        raise WireDecodeError(f"not valid JSON: {exc}") from None
    if isinstance(value, (dict, list)):
        _check_depth(value)
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    return json.dumps(value, **kwargs)
