"""The aioresponses shim. The stand-in server and a session pointed at it come from the
shipped pytest plugin (``adgate_server``, ``adgate_session``); a test that needs the tests'
own key or other settings builds its session with ``_support.make_session``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import aioresponses.core as aioresponses_core
import pytest
from aiohttp import ClientResponse
from aioresponses import aioresponses


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
