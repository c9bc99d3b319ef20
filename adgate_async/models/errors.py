"""The shape of an error body, for a typed look at ``APIStatusError.body``.

The client itself reads error bodies field by field (``_status.parse_error_body``), so one
field of an unexpected type never hides the others; this Struct is the documented shape.
Neither vendor documents its error body beyond ``error.code``. The expected shape is
``{"status": "error", "support_id": 123, "error": {"code": "...", "message": "..."}}``,
but any part may be missing, ``error`` may be a bare string, and a message may sit at the
top level instead. Only the HTTP status and ``error.code`` are ever branched on.
Like every model here it is frozen and ``gc=False`` (it holds only strings, numbers and
``ErrorDetail``, so it cannot be part of a reference cycle).
"""

from __future__ import annotations

import msgspec


class ErrorDetail(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    code: str | None = None
    message: str | None = None
    support_id: int | str | None = None


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    status: str | None = None
    support_id: int | str | None = None
    message: str | None = None
    error: ErrorDetail | str | None = None
