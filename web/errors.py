"""The contract's error shape for every REST refusal, and never a 500 for bad input."""
from __future__ import annotations

import json
import logging

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from sessions.errors import (
    HubError, Invalid, NotFound, TooLarge, Unavailable, format_validation_error, from_database_error, unavailable_from,
)
from sessions.text import flaw, id_flaw

log = logging.getLogger(__name__)

_HTTP_CODES = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "invalid",
               409: "conflict", 413: "too_large", 429: "rate_limited", 503: "unavailable"}
# What a 503 `unavailable` asks a client to wait before it retries.
RETRY_AFTER_S = 5

JSON_TYPE = "application/json"


def error_response(status: int, code: str, message: str) -> web.Response:
    response = web.json_response({"error": {"code": code, "message": message}}, status=status)
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _unavailable(request: web.Request, down: Unavailable) -> web.Response:
    # One line, no traceback: the outage is logged by the hub's heartbeat.
    log.warning("%s %s: the database is unavailable", request.method, request.path)
    return error_response(down.status, down.code, down.message)


@web.middleware
async def error_middleware(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HubError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "too_large", "request body is too large")
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api/"):
            raise
        return error_response(exc.status, _HTTP_CODES.get(exc.status, "invalid"), exc.reason)
    except SQLAlchemyError as exc:
        down = unavailable_from(exc)
        if down is not None:
            return _unavailable(request, down)
        refusal = from_database_error(exc)
        if refusal is None:
            log.exception("%s %s failed", request.method, request.path)
            return error_response(500, "internal", "the hub could not handle this request")
        # One line, no traceback: input did this, but a check before the write is missing.
        log.warning("%s %s: the database refused its input (%s)", request.method, request.path,
                    type(getattr(exc, "orig", None) or exc).__name__)
        return error_response(refusal.status, refusal.code, refusal.message)
    except Exception as exc:
        down = unavailable_from(exc)
        if down is not None:
            return _unavailable(request, down)
        log.exception("%s %s failed", request.method, request.path)
        return error_response(500, "internal", "the hub could not handle this request")


@web.middleware
async def input_guard_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Ids in the path and values in the query string follow sessions/text.py
    before any handler (and so any query) sees them: an id that cannot exist
    (a control character, a space, over 64 characters) is `not_found`, a
    query value with a control character `invalid`."""
    if request.path.startswith("/api/"):
        for name, value in request.match_info.items():
            problem = id_flaw(value)
            if problem:
                raise NotFound(f"no such {name}: the id {problem}")
        for key, value in request.query.items():
            problem = flaw(key) or flaw(value)
            if problem:
                raise Invalid(f"query parameter {key!r} {problem}")
    return await handler(request)


def require_json_type(request: web.Request) -> None:
    """JSON bodies come as application/json: a form or text/plain post is a
    client error (or a cross-site form), not something to guess at."""
    if request.content_type != JSON_TYPE:
        sent = request.headers.get("Content-Type") or "none"
        raise Invalid(f"send the body as {JSON_TYPE} (Content-Type was {sent[:100]})")


async def read_json(request: web.Request, model: type[BaseModel]):
    """Parse and validate a JSON body, turning every flaw into `invalid`."""
    require_json_type(request)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise TooLarge("request body is too large") from None
    return parse_json(raw, model)


def _no_constants(name: str):
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: bytes, model: type[BaseModel]):
    """Validate a JSON document already read (e.g. under a tighter size limit)."""
    try:
        # UTF-8 only (RFC 8259); json.loads would also guess UTF-16 and -32.
        data = json.loads((raw or b"null").decode("utf-8"), parse_constant=_no_constants)
    except RecursionError:
        raise Invalid("body is nested too deeply") from None
    except UnicodeDecodeError:
        raise Invalid("body is not valid JSON (not UTF-8)") from None
    except ValueError as exc:  # also a number of over 4300 digits, NaN, Infinity
        reason = str(exc)
        raise Invalid(f"body is not valid JSON ({reason[:200]})") from None
    if not isinstance(data, dict):
        raise Invalid("body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(format_validation_error(exc)) from None
    except RecursionError:
        raise Invalid("body is nested too deeply") from None
