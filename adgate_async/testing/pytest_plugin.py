"""A pytest plugin (registered through the ``pytest11`` entry point) for testing code that
uses adgate_async, with no credentials and no network.

Fixtures:

- ``adgate_server``: a started :class:`~adgate_async.testing.StandInServer` on 127.0.0.1,
  closed after the test. Script it (``adgate_server.script(...)``, ``.always(...)``) or give
  it random faults (``adgate_server.faults = Faults(error_rate=0.1, seed=1)``).
- ``adgate_session``: an :class:`~adgate_async.AsyncSession` pointed at that server, with
  test credentials and near-zero retry backoff, closed after the test.

Both are asyncio fixtures and need pytest-asyncio; without it they are not defined.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from .._session import AsyncSession
from ._server import StandInServer

try:
    import pytest_asyncio

    _HAVE_PYTEST_ASYNCIO = True
except ImportError:  # the fixtures need pytest-asyncio
    _HAVE_PYTEST_ASYNCIO = False

#: The credentials ``adgate_session`` uses (the stand-in accepts any).
TEST_AFF_ID = 60000
TEST_API_KEY = "stand-in-test-key"
TEST_WALL_CODE = "nQug"
TEST_WALL_ID = 567

if _HAVE_PYTEST_ASYNCIO:

    @pytest_asyncio.fixture
    async def adgate_server() -> AsyncIterator[StandInServer]:
        """A stand-in server for both endpoints, on 127.0.0.1."""
        async with StandInServer() as server:
            yield server

    @pytest_asyncio.fixture
    async def adgate_session(adgate_server: StandInServer) -> AsyncIterator[AsyncSession]:
        """A session against ``adgate_server`` (retries with ~1 ms backoff)."""
        async with AsyncSession(
            aff_id=TEST_AFF_ID, api_key=TEST_API_KEY, wall_code=TEST_WALL_CODE,
            wall_id=TEST_WALL_ID, retry_backoff=0.001, retry_backoff_max=0.01,
            **adgate_server.session_urls(),
        ) as session:
            yield session
