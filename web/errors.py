"""The contract's error shape for every REST refusal, and never a 500 for bad input."""
from __future__ import annotations

import json
import logging

from aiohttp import web
from pydantic import BaseModel, ValidationError

from sessions.errors import HubError, Invalid, TooLarge
from signaling.server import format_validation_error

log = logging.getLogger(__name__)

_HTTP_CODES = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "invalid",
               409: "conflict", 413: "too_large", 429: "rate_limited"}


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


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
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(500, "internal", "the hub could not handle this request")


async def read_json(request: web.Request, model: type[BaseModel]):
    """Parse and validate a JSON body, turning every flaw into `invalid`."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise TooLarge("request body is too large") from None
    return parse_json(raw, model)


def parse_json(raw: bytes, model: type[BaseModel]):
    """Validate a JSON document already read (e.g. under a tighter size limit)."""
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise Invalid("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Invalid("body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(format_validation_error(exc)) from None

