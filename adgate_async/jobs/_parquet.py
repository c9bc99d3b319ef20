"""Parquet parts (optional extra ``parquet``: pyarrow).

One row per user: ``index`` (int64), ``user_id``, ``ok``, the error's fields (``error_type``,
``error_status``, ``error_code``, ``error_message``, ``error_support_id``,
``error_attempts``; null when ok), and ``offers``: the history as a nested
``list<struct<...>>`` column, one struct per :class:`~adgate_async.HistoryOffer` with its
``events`` nested the same way (null when the user failed).

Nested rather than a second, flattened offers table: a part stays one file renamed into
place at once (two tables would have to appear together, or exactly-once breaks), the row
count is the user count, and DuckDB / Polars / Spark flatten it in a query (``unnest``). The
Arrow schema is derived once from the msgspec models, so a model field added later is a
column without any change here.
"""

from __future__ import annotations

from typing import Any

import msgspec
import msgspec.inspect as mi

from .. import APIStatusError, HistoryOffer, UserResult
from ._errors import JobSetupError
from ._records import printable
from ._store import EarlyWriteback, LocalStore

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:  # pragma: no cover - depends on the extra
    pa = None

#: Rows buffered before they are written as one row group.
ROW_GROUP = 1000


def _arrow(t: mi.Type) -> Any:
    """The Arrow type of a msgspec model type (nullable, as every Arrow field is)."""
    if isinstance(t, mi.UnionType):
        (inner,) = [x for x in t.types if not isinstance(x, mi.NoneType)]
        return _arrow(inner)
    if isinstance(t, mi.BoolType):
        return pa.bool_()
    if isinstance(t, mi.IntType):
        return pa.int64()
    if isinstance(t, mi.FloatType):
        return pa.float64()
    if isinstance(t, mi.StrType):
        return pa.string()
    if isinstance(t, mi.ListType | mi.VarTupleType):
        return pa.list_(_arrow(t.item_type))
    if isinstance(t, mi.StructType):
        return pa.struct([pa.field(f.encode_name, _arrow(f.type)) for f in t.fields])
    raise TypeError(f"no Arrow type for {t!r}")  # pragma: no cover - a new kind of field


_SCHEMA: Any = None


def schema() -> Any:
    """The Arrow schema of a part (built once)."""
    global _SCHEMA
    if pa is None:
        raise JobSetupError("Parquet output needs pyarrow: pip install 'adgate_async[parquet]'")
    if _SCHEMA is None:
        _SCHEMA = pa.schema([
            pa.field("index", pa.int64(), nullable=False),
            pa.field("user_id", pa.string(), nullable=False),
            pa.field("ok", pa.bool_(), nullable=False),
            pa.field("error_type", pa.string()),
            pa.field("error_status", pa.int64()),
            pa.field("error_code", pa.string()),
            pa.field("error_message", pa.string()),
            pa.field("error_support_id", pa.int64()),
            pa.field("error_attempts", pa.int64()),
            pa.field("offers", pa.list_(_arrow(mi.type_info(HistoryOffer)))),
        ])
    return _SCHEMA


def row(position: int, result: UserResult) -> dict[str, Any]:
    """One user's row, as plain Python values."""
    error = result.error
    if error is None:
        history = result.history
        return {"index": position, "user_id": printable(result.user_id), "ok": True,
                "offers": msgspec.to_builtins(history.data) if history else None}
    status = error.status if isinstance(error, APIStatusError) else None
    return {
        "index": position, "user_id": printable(result.user_id), "ok": False,
        "error_type": type(error).__name__, "error_status": status,
        "error_code": getattr(error, "code", None), "error_message": error.message,
        "error_support_id": getattr(error, "support_id", None),
        "error_attempts": getattr(error, "attempts", None), "offers": None,
    }


class ParquetPart:
    """One part file, written a row group at a time."""

    def __init__(self, store: LocalStore, name: str) -> None:
        self._schema = schema()
        self._store = store
        self._rows: list[dict[str, Any]] = []
        self._file = store.open_write(name)
        try:
            self._writer = pq.ParquetWriter(self._file, self._schema, compression="snappy")
        except BaseException:
            self._file.close()
            raise
        self._writeback = EarlyWriteback(self._file)
        self._written = 0  # bytes of the file shown to the writeback so far

    def write(self, position: int, result: UserResult) -> None:
        self._rows.append(row(position, result))
        if len(self._rows) >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self._schema))
            self._rows = []
            size = self._file.tell()
            self._writeback.wrote(size - self._written)
            self._written = size

    def close(self) -> None:
        try:
            try:
                self._flush()
            finally:
                self._writer.close()  # the footer; the file itself is left open
        finally:
            try:
                self._writeback.wait()
            finally:
                self._store.finish(self._file)
