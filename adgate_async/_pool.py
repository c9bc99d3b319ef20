"""The HTTP pool of a session: created lazily inside the running event loop, bound to that
loop, and closed once (a pool supplied by the caller is used as is and left open)."""

from __future__ import annotations

import asyncio

import aiohttp

__all__ = ["Pool"]


class Pool:
    """One aiohttp session for one event loop."""

    __slots__ = ("_client", "_headers", "_limit", "_loop", "_owned", "_proxy", "_timeout",
                 "_trace_configs", "_trust_env", "closed", "request_headers")

    def __init__(self, client: aiohttp.ClientSession | None, *, limit: int,
                 timeout: aiohttp.ClientTimeout, headers: dict[str, str],
                 always: frozenset[str] = frozenset(), trust_env: bool = False,
                 proxy: str | None = None,
                 trace_configs: list[aiohttp.TraceConfig] | None = None) -> None:
        self._client = client
        self._trace_configs = trace_configs  # for our own aiohttp session only
        self._owned = client is None
        self._limit = limit
        self._timeout = timeout
        # A caller's session keeps its own default headers: ours only fill in what it lacks,
        # sent with each request (those named in ``always``, lowercased, are sent anyway: the
        # caller gave them as headers=); our own pool sends them all as its defaults.
        self._headers = {name: value for name, value in headers.items()
                         if client is None or name not in client.headers
                         or name.lower() in always}
        # For the pool we create only (the session refuses them with a caller's pool).
        self._trust_env = trust_env
        self._proxy = proxy
        #: The headers to pass with each request (None: the pool sends them already).
        self.request_headers = None if client is None else self._headers
        self._loop: asyncio.AbstractEventLoop | None = None
        #: True once :meth:`close` has been called.
        self.closed = False

    def check_open(self) -> None:
        if self.closed:
            raise RuntimeError("this AsyncSession is closed; create a new one")

    def check_still_open(self) -> None:
        """Before a retry: the session's closing is told as such, not as aiohttp's bare
        "Session is closed"."""
        if self.closed:
            raise RuntimeError("the AsyncSession was closed while this call was being retried")
        self._check_caller_client()

    def _check_caller_client(self) -> None:
        """A caller's aiohttp session, closed by the caller, is told as such (aiohttp
        would say only "Session is closed", not which session)."""
        client = self._client
        if not self._owned and client is not None and client.closed:
            raise RuntimeError(
                "the aiohttp.ClientSession given as session= is closed; keep it open while "
                "the AsyncSession uses it (or let the AsyncSession make its own)"
            )

    def client(self) -> aiohttp.ClientSession:
        """The aiohttp session, created on first use inside the running loop."""
        self.check_open()
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise RuntimeError(
                "this AsyncSession is bound to another event loop; create one session per loop"
            )
        client = self._client
        if client is None:
            client = self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit),
                timeout=self._timeout,
                headers=self._headers,
                trust_env=self._trust_env,
                proxy=self._proxy,
                trace_configs=self._trace_configs,
            )
        elif not self._owned:
            self._check_caller_client()
        return client

    @property
    def created(self) -> bool:
        """True once the aiohttp session exists (always, for a caller's)."""
        return self._client is not None

    def size(self) -> int | None:
        """How many connections the pool allows (None: no limit)."""
        if self._owned:
            return self._limit
        connector = self._client.connector if self._client is not None else None
        limits = [getattr(connector, name, 0) for name in ("limit", "limit_per_host")]
        positive = [n for n in limits if isinstance(n, int) and n > 0]
        return min(positive) if positive else None  # each call goes to one host

    async def close(self) -> None:
        """Close the aiohttp session (unless the caller supplied it). Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        client, self._client = self._client, None
        if client is not None and self._owned:
            await client.close()
