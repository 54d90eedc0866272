"""Helpers shared by the API's routers."""

from __future__ import annotations

import json
from typing import Any, cast

from django.http import HttpRequest
from ninja import Schema

from ..errors import BadRequest
from ..models import User
from ..wire.validate import json_schema


class ErrorOut(Schema):
    code: str
    detail: str


ERRORS: dict[int, type[Schema]] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    429: ErrorOut,
}


def resident(request: HttpRequest) -> User:
    """The authenticated resident (SessionAuth has already refused anyone else)."""
    return cast(User, request.user)


def json_object(request: HttpRequest) -> dict[str, Any]:
    """The JSON object in the request body, or BadRequest."""
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("Body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("Body must be a JSON object.")
    return data


def body_of(declaration: type) -> dict[str, Any]:
    """`openapi_extra` naming a declaration of wire.schema as the JSON body
    (validated by the service itself, with the contract's error codes)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": json_schema(declaration)}},
        }
    }
