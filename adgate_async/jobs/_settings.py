"""``SessionConfig``: the settings of an AsyncSession as a small, frozen, picklable value.

A job creates its session from this value inside whatever runs it (this process, a worker
process, a cluster task), so the value, not a live session, is what travels. Fields left as
``None`` take the session's own defaults.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .. import AsyncSession


@dataclasses.dataclass(frozen=True, kw_only=True)
class SessionConfig:
    """The keyword arguments of :class:`~adgate_async.AsyncSession`, minus ``session=``.

    ``api_key`` is left out of the ``repr``. It is part of the pickled value (a worker needs
    it to call the API), so pickle it only to places you would hand the key to.
    """

    aff_id: int
    api_key: str = dataclasses.field(repr=False)
    wall_code: str
    wall_id: int | None = None
    adgate_base_url: str | None = None
    revu_base_url: str | None = None
    max_retries: int | None = None
    retry_backoff: float | None = None
    retry_backoff_max: float | None = None
    timeout: float | None = None
    max_connections: int | None = None
    max_response_bytes: int | None = None

    def kwargs(self) -> dict[str, Any]:
        """The AsyncSession keyword arguments (the ``None`` ones left to the defaults)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None}

    def open(self) -> AsyncSession:
        """A new session with these settings (use it as ``async with``)."""
        return AsyncSession(**self.kwargs())
