"""An embedded stand-in for both endpoints, on 127.0.0.1, with scripted per-user answers.

    async with StandInServer() as server:
        server.script("u1", Answer.error(500), Answer.ok())        # 500 first, then data
        server.always("banned", Answer.ban("USER_BANNED"))
        async with AsyncSession(aff_id=1, api_key="k", wall_code="w", wall_id=5,
                                **server.session_urls()) as s:
            await s.get_history("u1")
        assert server.count("u1") == 2

It counts the requests it receives and the peak number in flight, so tests can check
retries and concurrency at the server rather than trusting the client's own account.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections import defaultdict, deque
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, TypedDict

import msgspec
from aiohttp import web

from ._answers import Answer, Endpoint, RecordedRequest, fault_answer
from ._data import make_history, make_personalized
from ._faults import Faults

_HISTORY_PATH = "/v1/user-based-api/history"
_PERSONALIZED_ROUTE = "/api/v1/users/{uid}/personalized"
_JSON = "application/json"


class SessionURLs(TypedDict):
    """Both base URLs, ready to pass as ``AsyncSession(..., **server.session_urls())``."""

    adgate_base_url: str
    revu_base_url: str


class StandInServer:
    """A local ``aiohttp.web`` server that answers like both vendors.

    - ``GET /v1/user-based-api/history``: a generated history per user (``offers_per_user``
      offers), the vendor's own sample for ``user12345``; 400 when a required parameter is
      missing.
    - ``GET /api/v1/users/{uid}/personalized``: ``numoffers`` generated offers; 400 when
      ``wall``/``numoffers`` are missing or out of range, or ``device`` is unknown.

    Scripted answers (:meth:`script`, :meth:`always`) override the defaults per user id.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        offers_per_user: int = 3,
        delay: float = 0.0,
        record: bool = True,
        faults: Faults | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.seed = seed
        self.offers_per_user = offers_per_user
        #: Seconds every unscripted answer waits before it is sent (a server's latency).
        self.delay = delay
        #: Keep every request in :attr:`requests` (turn off for runs of millions of users:
        #: :attr:`total_requests` still counts them).
        self.record = record
        self.total_requests = 0
        #: Random faults (see :class:`Faults`); None for none.
        self.faults = faults
        #: How many requests of each fault were answered (``"error"``, ``"reset"``, ...).
        self.fault_counts: dict[str, int] = {}
        self._requests_per_user: dict[str, int] = {}
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self._scripts: dict[tuple[str, Endpoint | None], deque[Answer]] = defaultdict(deque)
        self._always: dict[tuple[str, Endpoint | None], Answer] = {}
        self._runner: web.AppRunner | None = None

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> StandInServer:
        app = web.Application()
        app.router.add_get(_HISTORY_PATH, self._history)
        app.router.add_get(_PERSONALIZED_ROUTE, self._personalized)
        # handler_cancellation: a handler whose client went away (timeout) is cancelled,
        # so a hung answer never outlives the test.
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True,
                               shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self.port = runner.addresses[0][1]
        self._runner = runner
        return self

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> StandInServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        """The base URL of both endpoints, e.g. ``http://127.0.0.1:41234``."""
        return f"http://{self.host}:{self.port}"

    def session_urls(self) -> SessionURLs:
        """``adgate_base_url`` and ``revu_base_url`` for :class:`~adgate_async.AsyncSession`."""
        return {"adgate_base_url": self.url, "revu_base_url": self.url}

    # -------------------------------------------------------------- scripting

    def script(self, user_id: str, *answers: Answer, endpoint: Endpoint | None = None) -> None:
        """Queue answers for ``user_id``: one per request, in order; then the default again.

        ``endpoint`` limits them to one endpoint (both by default).
        """
        self._scripts[(user_id, endpoint)].extend(answers)

    def always(self, user_id: str, answer: Answer, *, endpoint: Endpoint | None = None) -> None:
        """Answer every request for ``user_id`` with ``answer`` (after any queued ones)."""
        self._always[(user_id, endpoint)] = answer

    def count(self, user_id: str | None = None, endpoint: Endpoint | None = None) -> int:
        """How many requests were received (for one user and/or endpoint)."""
        if user_id is None and endpoint is None:
            return self.total_requests
        if not self.record:
            raise RuntimeError("per-user counts need StandInServer(record=True)")
        return sum(
            1 for r in self.requests
            if (user_id is None or r.user_id == user_id)
            and (endpoint is None or r.endpoint == endpoint)
        )

    def reset_counters(self) -> None:
        """Forget the requests received and the peak in flight."""
        self.requests.clear()
        self.total_requests = 0
        self.peak_in_flight = self.in_flight

    def _scripted(self, user_id: str, endpoint: Endpoint) -> Answer | None:
        for key in ((user_id, endpoint), (user_id, None)):
            queue = self._scripts.get(key)
            if queue:
                return queue.popleft()
        for key in ((user_id, endpoint), (user_id, None)):
            if key in self._always:
                return self._always[key]
        return None

    # --------------------------------------------------------------- handlers

    async def _history(self, request: web.Request) -> web.StreamResponse:
        user_id = request.query.get("user_id", "")
        return await self._serve(request, "history", user_id, self._history_body)

    async def _personalized(self, request: web.Request) -> web.StreamResponse:
        uid = request.match_info["uid"]
        return await self._serve(request, "personalized", uid, self._personalized_body)

    async def _serve(self, request: web.Request, endpoint: Endpoint, user_id: str,
                     default: Any) -> web.StreamResponse:
        self.total_requests += 1
        answer = self._scripted(user_id, endpoint)
        fault: str | None = "scripted" if answer is not None else None
        if answer is None and self.faults is not None:
            nth = self._requests_per_user.get(user_id, 0)
            self._requests_per_user[user_id] = nth + 1
            fault = self.faults.pick(user_id, nth)
            if fault is not None:
                answer = fault_answer(self.faults, fault)
        if fault is not None:
            self.fault_counts[fault] = self.fault_counts.get(fault, 0) + 1
        if self.record:
            self.requests.append(RecordedRequest(
                endpoint=endpoint, user_id=user_id, path=request.raw_path.split("?", 1)[0],
                query=dict(request.query), headers=dict(request.headers),
                time=asyncio.get_running_loop().time(), fault=fault,
            ))
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if answer is None:
                if self.delay:
                    await asyncio.sleep(self.delay)
                status, body = default(request)
                return web.Response(status=status, body=body, content_type=_JSON)
            if answer.delay:
                await asyncio.sleep(answer.delay)
            if answer.reset:
                return self._reset(request)
            status, body = answer.status, answer.body
            if body is None:
                if 200 <= status < 300:  # the normal document (or the normal 400)
                    status, body = default(request)
                else:
                    body = _error_body(status)
            if answer.truncate:
                return await self._truncate(request, status, body, answer.headers,
                                            answer.stall)
            if answer.chunk_delay:
                return await self._slow(request, status, body, answer.headers,
                                        answer.chunk_delay, answer.chunked)
            return web.Response(status=status, body=body, headers=answer.headers,
                                content_type=_JSON)
        finally:
            self.in_flight -= 1

    @staticmethod
    def _reset(request: web.Request) -> web.StreamResponse:
        transport = request.transport
        assert transport is not None
        sock = transport.get_extra_info("socket")
        if sock is not None:  # SO_LINGER 0: close sends a TCP RST, not a FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        raise asyncio.CancelledError  # nothing more to send on this connection

    @staticmethod
    async def _truncate(request: web.Request, status: int, body: bytes,
                        headers: Mapping[str, str], stall: float) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers=headers)
        response.content_type = _JSON
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        if stall:
            await asyncio.sleep(stall)
        transport = request.transport
        assert transport is not None
        transport.close()
        raise asyncio.CancelledError

    @staticmethod
    async def _slow(request: web.Request, status: int, body: bytes,
                    headers: Mapping[str, str], chunk_delay: float,
                    chunked: bool) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers=headers)
        response.content_type = _JSON
        if chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = len(body)
        await response.prepare(request)
        step = max(1, -(-len(body) // 4))
        for start in range(0, len(body), step):
            if start:
                await asyncio.sleep(chunk_delay)
            await response.write(body[start:start + step])
        await response.write_eof()
        return response

    def _history_body(self, request: web.Request) -> tuple[int, bytes]:
        query = request.query
        for name in ("aff_id", "api_key", "wall_code", "user_id"):
            if not query.get(name):
                return 400, _error_body(400, f"missing required parameter {name}")
        if not query["aff_id"].isdigit():
            return 400, _error_body(400, "aff_id must be an integer")
        offers = self.offers_per_user
        return 200, _history_bytes(query["user_id"], offers, self.seed)

    def _personalized_body(self, request: web.Request) -> tuple[int, bytes]:
        query = request.query
        try:
            wall = int(query["wall"])
            numoffers = int(query["numoffers"])
        except (KeyError, ValueError):
            return 400, _error_body(400, "wall and numoffers are required integers")
        if not 1 <= numoffers <= 500:
            return 400, _error_body(400, "numoffers must be in 1..500")
        if query.get("device", "desktop") not in ("desktop", "ios", "android"):
            return 400, _error_body(400, "device must be desktop, ios or android")
        bid_floor = query.get("bid_floor")
        doc = make_personalized(
            request.match_info["uid"], numoffers=numoffers, wall=wall, seed=self.seed,
            sid3=query.get("sid3"),
            include_sortmetric=query.get("include_sortmetric") == "true",
            bid_floor=float(bid_floor) if bid_floor is not None else None,
            experiment_id=query.get("experiment_id"),
        )
        return 200, msgspec.json.encode(doc)


@lru_cache(maxsize=1024)
def _history_bytes(user_id: str, offers: int, seed: int) -> bytes:
    return msgspec.json.encode(make_history(user_id, offers, seed=seed))


def _error_body(status: int, message: str | None = None) -> bytes:
    return msgspec.json.encode({
        "status": "error",
        "support_id": 4242,
        "error": {"code": f"HTTP_{status}", "message": message or f"stand-in error {status}"},
    })
