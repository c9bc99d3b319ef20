"""Vendor drift made visible: fields an answer carries that the models do not know.

Decoding ignores unknown fields (a field the vendor adds must never break a call), so a new
field would pass unseen. When the package logger is enabled for DEBUG, and only then, a
decoded answer's body is also read as plain JSON and its keys compared with the models'
fields; each unknown field is logged once per process, by its path only (never its value),
e.g. ``the history answer carries a field the models do not know: data[].new_field``.

The work is bounded: the first :data:`CHECK_FIRST` answers of each model are checked, then
one in :data:`CHECK_EVERY`; at most :data:`MAX_PATHS` paths are remembered, after which
nothing more is checked. Without DEBUG, the caller's ``isEnabledFor`` test is all it costs.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any, Final

import msgspec
import msgspec.inspect as mi

from . import _config

__all__ = ["CHECK_EVERY", "CHECK_FIRST", "LOGGER", "MAX_PATHS", "check", "reset"]

LOGGER: Final = logging.getLogger(_config.LOGGER_NAME)

#: Answers checked per model: the first CHECK_FIRST, then one in CHECK_EVERY.
CHECK_FIRST: Final = 100
CHECK_EVERY: Final = 100
#: Distinct unknown field paths remembered (each logged once) per process, at most.
MAX_PATHS: Final = 1000
#: A field name longer than this is cut in the log line.
MAX_NAME_CHARS: Final = 64


class _Shape:
    """The JSON names one Struct knows, and the Structs nested under some of them."""

    __slots__ = ("names", "nested")

    def __init__(self) -> None:
        self.names: frozenset[str] = frozenset()
        #: name -> ("[]" for an array of Structs, "" for one Struct; its shape)
        self.nested: dict[str, tuple[str, _Shape]] = {}


def _struct_in(t: mi.Type) -> tuple[str, mi.StructType] | None:
    """The Struct a field holds (alone, in a union, or as the items of an array), if any."""
    for member in t.types if isinstance(t, mi.UnionType) else (t,):
        if isinstance(member, mi.StructType):
            return "", member
        if isinstance(member, mi.VarTupleType | mi.ListType) and isinstance(
            member.item_type, mi.StructType
        ):
            return "[]", member.item_type
    return None


def _shape_of(struct: mi.StructType, built: dict[type, _Shape]) -> _Shape:
    shape = built.get(struct.cls)
    if shape is not None:
        return shape
    shape = built[struct.cls] = _Shape()
    shape.names = frozenset(f.encode_name for f in struct.fields)
    for field in struct.fields:
        inner = _struct_in(field.type)
        if inner is not None:
            suffix, child = inner
            shape.nested[field.encode_name] = (suffix, _shape_of(child, built))
    return shape


def _shape(model: type[Any]) -> _Shape:
    shape = _SHAPES.get(model)
    if shape is None:
        info = mi.type_info(model)
        assert isinstance(info, mi.StructType)
        shape = _SHAPES[model] = _shape_of(info, {})
    return shape


def _unknown(objects: list[dict[str, Any]], shape: _Shape, prefix: str,
             found: list[tuple[str, str]]) -> None:
    """Collect into ``found`` (as ``(prefix, key)``) every key of ``objects``, the JSON
    objects at one place of the document (``prefix``: its path so far, e.g. ``data[].``),
    that ``shape`` does not know."""
    keys: set[str] = set()
    for obj in objects:
        keys.update(obj)
    found.extend((prefix, key) for key in sorted(keys - shape.names))
    for name, (suffix, child) in shape.nested.items():
        values = [obj.get(name) for obj in objects]
        if suffix:
            inner = [item for v in values if isinstance(v, list)
                     for item in v if isinstance(item, dict)]
        else:
            inner = [v for v in values if isinstance(v, dict)]
        if inner:
            _unknown(inner, child, f"{prefix}{name}{suffix}.", found)


def _shown(name: str, scrub: Callable[[str], str]) -> str:
    """A field name fit for a log line: the key taken out, cut, quoted unless a plain
    identifier (so it can never forge a line or hide in escapes)."""
    name = scrub(name)
    if name.isidentifier() and name.isascii() and len(name) <= MAX_NAME_CHARS:
        return name
    cut = name[:MAX_NAME_CHARS]
    return json.dumps(cut) + ("..." if len(name) > MAX_NAME_CHARS else "")


_SHAPES: dict[type[Any], _Shape] = {}
_checked: dict[type[Any], int] = {}
_seen: set[tuple[type[Any], str, str]] = set()
_lock = threading.Lock()


def check(model: type[Any], body: bytes, scrub: Callable[[str], str] = str) -> None:
    """Log (DEBUG) each field of ``body``, an answer that decoded into ``model``, which the
    model does not know, once per process. The caller has checked that DEBUG is enabled."""
    with _lock:
        count = _checked.get(model, 0)
        _checked[model] = count + 1
        if (count >= CHECK_FIRST and count % CHECK_EVERY) or len(_seen) >= MAX_PATHS:
            return
    try:
        doc = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return  # deeper than the plain read can follow, or a skipped field not UTF-8
    if not isinstance(doc, dict):  # pragma: no cover
        return
    found: list[tuple[str, str]] = []
    _unknown([doc], _shape(model), "", found)
    what = model.__name__.lower()
    for prefix, key in found:
        with _lock:
            if len(_seen) >= MAX_PATHS or (model, prefix, key) in _seen:
                continue
            _seen.add((model, prefix, key))
        LOGGER.debug("the %s answer carries a field the models do not know: %s%s", what,
                     prefix, _shown(key, scrub))


def reset() -> None:
    """Forget what was checked and logged (for tests)."""
    with _lock:
        _checked.clear()
        _seen.clear()
