"""Domain errors, each carrying a stable machine code, the offending field and a fix.

The web layer maps them to HTTP in one place (``webmap/errors.py``); the CLI prints them.
Messages are Chinese (the users' language) and name the field and the fix.

>>> err = InvalidInput("编码字段缺失", field="code_field", code="missing_field")
>>> (err.status, err.code, err.field)
(422, 'missing_field', 'code_field')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "BoundaryFileError",
    "Conflict",
    "Forbidden",
    "GridmapError",
    "InvalidInput",
    "NotFound",
    "TooLarge",
    "Unauthorized",
    "Unavailable",
    "preview",
]

#: How many offending items an error message lists before it says "… and N more".
PREVIEW_ITEMS = 10


class GridmapError(Exception):
    """Base of every error the domain raises on purpose."""

    status = 400
    default_code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or self.default_code
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "field": self.field}
        if self.details is not None:
            body["details"] = self.details
        return body


class InvalidInput(GridmapError):
    """The request or file is well-formed but its content breaks a rule."""

    status = 422
    default_code = "invalid_input"


class BoundaryFileError(InvalidInput):
    """A boundary file cannot be loaded as given; nothing was written."""

    default_code = "bad_boundary_file"


class Unauthorized(GridmapError):
    status = 401
    default_code = "unauthorized"


class Forbidden(GridmapError):
    status = 403
    default_code = "forbidden"


class NotFound(GridmapError):
    status = 404
    default_code = "not_found"


class Conflict(GridmapError):
    status = 409
    default_code = "conflict"


class TooLarge(GridmapError):
    status = 413
    default_code = "too_large"


class Unavailable(GridmapError):
    status = 503
    default_code = "unavailable"


def preview(items: Sequence[Any], limit: int = PREVIEW_ITEMS) -> str:
    """Join the first few items for a message, saying how many were left out.

    >>> preview(["a", "b", "c"], limit=2)
    'a, b … 及另外 1 项'
    """
    shown = ", ".join(str(item) for item in items[:limit])
    rest = len(items) - limit
    return f"{shown} … 及另外 {rest} 项" if rest > 0 else shown
