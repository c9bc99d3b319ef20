"""``Parts``: the ids of a job cut into parts (position ranges) for workers or cluster tasks,
the parts already in place skipped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from ._input import IdSource, as_async
from ._shards import ShardSink


class Parts:
    """``async for shard, ids in Parts(...)``: each part not yet in ``sink``, with its ids.

    Reading stops when ``stopped()`` turns true; ``ended`` is then False. Once the whole input
    is read, ``ended`` is True and the sink knows the input's length. At most one part of ids
    is held here at a time.
    """

    def __init__(self, ids: IdSource, sink: ShardSink, stopped: Callable[[], bool]) -> None:
        self._ids = ids
        self._sink = sink
        self._stopped = stopped
        self.skipped = 0  #: ids of parts already in place
        self.ended = False

    async def __aiter__(self) -> AsyncIterator[tuple[int, list[str]]]:
        size, existing = self._sink.size, self._sink.existing
        position = current = -1
        chunk: list[str] = []
        async for user_id in as_async(self._ids):
            if self._stopped():
                return
            position += 1
            shard = position // size
            if shard != current:
                if chunk:
                    yield current, chunk
                current, chunk = shard, []
            if shard in existing:
                self.skipped += 1
                continue
            chunk.append(user_id)
        if self._stopped():  # the input was cut short by the stop (stdin on a signal)
            return
        if chunk:
            yield current, chunk
        self.ended = True
        self._sink.input_ended(position + 1)
