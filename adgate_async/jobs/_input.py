"""Reading user ids from a file, one per line, the way ``adgate-async bulk`` does."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

_BOM = b"\xef\xbb\xbf"

IdSource = str | os.PathLike[str] | Iterable[str] | AsyncIterable[str]


def read_id_file(path: str | os.PathLike[str]) -> Iterator[str]:
    """The ids of a UTF-8 file, one per line: a leading byte order mark is dropped, lines
    that are empty or only whitespace are skipped, any other line is an id minus its line
    ending. Bytes that are not UTF-8 are kept as surrogates (that id alone is then refused
    by the library)."""
    with open(path, "rb") as fh:
        first = True
        for raw in fh:
            if first:
                raw = raw.removeprefix(_BOM)
                first = False
            line = raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", "surrogateescape")
            if line.strip():
                yield line


async def as_async(ids: IdSource) -> AsyncIterator[str]:
    """Any id source as an async iterator (a path is read line by line)."""
    if isinstance(ids, str | os.PathLike):
        ids = read_id_file(ids)
    if isinstance(ids, AsyncIterable):
        async for user_id in ids:
            yield user_id
    else:
        for user_id in ids:
            yield user_id
