"""A batch's input, handed out to its workers as ``(index, item)``, one item at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sized
from typing import Generic, TypeVar

I = TypeVar("I")  # noqa: E741  an input item (a user id)


class Source(Generic[I]):
    """Hands the input out to the workers as ``(index, item)``, lazily.

    A plain iterable is advanced without any await (so no two workers can interleave); it
    runs on the event loop, so its ``next()`` must not block. An async iterable is advanced
    behind a lock (async generators refuse concurrent ``__anext__``).
    """

    __slots__ = ("_aiter", "_index", "_iter", "_lock", "total")

    def __init__(self, items: Iterable[I] | AsyncIterable[I]) -> None:
        self.total = len(items) if isinstance(items, Sized) else None
        self._index = 0
        self._iter: Iterator[I] | None = None
        self._aiter: AsyncIterator[I] | None = None
        if isinstance(items, AsyncIterable):
            self._aiter = aiter(items)
            self._lock = asyncio.Lock()
        else:
            self._iter = iter(items)

    @property
    def sync(self) -> bool:
        """True when the input is a plain iterable: :meth:`take` then reads it."""
        return self._iter is not None

    def take(self) -> tuple[int, I] | None:
        """:meth:`next` without a coroutine, for a plain iterable only (see :attr:`sync`)."""
        assert self._iter is not None
        try:
            item = next(self._iter)
        except StopIteration:
            return None
        index = self._index
        self._index = index + 1
        return index, item

    async def next(self) -> tuple[int, I] | None:
        """The next item with its input index, or None once the input is exhausted."""
        if self._iter is not None:
            return self.take()
        assert self._aiter is not None
        async with self._lock:
            try:
                item = await anext(self._aiter)
            except StopAsyncIteration:
                return None
            index = self._index  # taken under the lock: indexes follow the input
            self._index = index + 1
            return index, item
