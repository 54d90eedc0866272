"""Validate a JSON body against a declaration of `wire.schema` (strict)."""

from __future__ import annotations

from collections.abc import Hashable
from functools import cache
from typing import Any, TypeVar, cast

from pydantic import TypeAdapter, ValidationError

from ..errors import BadRequest

T = TypeVar("T")


@cache
def _adapter(declaration: Any) -> TypeAdapter[Any]:
    return TypeAdapter(declaration)


def json_schema(declaration: type) -> dict[str, Any]:
    """The JSON Schema of a declaration, for OpenAPI request bodies."""
    return _adapter(declaration).json_schema()


def validated(declaration: type[T], data: object) -> T:
    """`data` as the declaration says, or BadRequest naming the bad fields.

    Strict: JSON gives booleans and numbers their own types; a "true" string
    or a 1 is not a boolean."""
    try:
        adapter: TypeAdapter[T] = _adapter(cast(Hashable, declaration))
        return adapter.validate_python(data, strict=True)
    except ValidationError as error:
        fields = sorted(
            {".".join(str(p) for p in e["loc"]) or "body" for e in error.errors()}
        )
        raise BadRequest("Invalid: " + ", ".join(fields)) from None
