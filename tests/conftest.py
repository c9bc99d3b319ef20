"""Shared fixtures: the stand-in server, a session pointed at it, and the aioresponses shim."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from unittest import mock

import aioresponses.core as aioresponses_core
import pytest
from aiohttp import ClientResponse
from aioresponses import aioresponses

from adgate_async import AsyncSession
from adgate_async.testing import StandInServer

from ._support import make_session


# aioresponses 0.7.9 builds ClientResponse without the `stream_writer` argument that
# aiohttp 3.14 requires (upstream issue #289; fixes not yet released). This subclass
# supplies a stand-in writer. Delete it once an aioresponses release handles aiohttp 3.14.
class _CompatClientResponse(ClientResponse):
    def __init__(self, method: str, url: Any, *, stream_writer: Any = None, **kw: Any) -> None:
        if stream_writer is None:
            stream_writer = mock.Mock(output_size=0)
        super().__init__(method, url, stream_writer=stream_writer, **kw)


@pytest.fixture
def mock_http() -> Iterator[aioresponses]:
    """aioresponses, with the aiohttp 3.14 shim applied."""
    with (
        mock.patch.object(aioresponses_core, "ClientResponse", _CompatClientResponse),
        aioresponses() as mocked,
    ):
        yield mocked


@pytest.fixture
async def server() -> AsyncIterator[StandInServer]:
    async with StandInServer() as srv:
        yield srv


@pytest.fixture
async def session(server: StandInServer) -> AsyncIterator[AsyncSession]:
    """A session against the stand-in server, with near-zero backoff."""
    async with make_session(**server.session_urls()) as s:
        yield s
