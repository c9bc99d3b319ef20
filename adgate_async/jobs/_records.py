"""The JSON Lines shape of one user's result (the CLI's and the jobs' output)."""

from __future__ import annotations

from typing import Any

import msgspec

from .. import AdGateError, APIStatusError, UserResult

_encoder = msgspec.json.Encoder()


def error_record(error: AdGateError) -> dict[str, Any]:
    """The JSON shape of one user's error in the bulk output."""
    record: dict[str, Any] = {"type": type(error).__name__,
                              "status": getattr(error, "status", None), "code": None,
                              "message": error.message}
    if isinstance(error, APIStatusError):
        record.update(status=error.status, code=error.code, support_id=error.support_id)
    attempts = getattr(error, "attempts", None)
    if attempts is not None:
        record["attempts"] = attempts
    return record


def result_line(result: UserResult, index: int | None = None) -> bytes:
    """One JSON line, ``index`` first (resume reads it back cheaply from the line's start).
    ``index`` overrides ``result.index`` (a job's position in its whole input)."""
    position = result.index if index is None else index
    if result.error is None:
        doc: dict[str, Any] = {"index": position, "user_id": result.user_id,
                               "history": result.history}
    else:
        doc = {"index": position, "user_id": printable(result.user_id),
               "error": error_record(result.error)}
    return _encoder.encode(doc) + b"\n"


def printable(user_id: str) -> str:
    """An id read from bytes that were not UTF-8, with those bytes shown as ``\\xNN``."""
    if user_id.isascii():
        return user_id
    return user_id.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
