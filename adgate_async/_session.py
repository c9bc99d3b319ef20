"""AsyncSession: the lifecycle of the HTTP pool, and the one request path every call takes.

caller -> validation (_params) -> URL -> attempt (aiohttp) -> status mapping (_errors)
       -> decode (_response) -> model;  retryable failures -> _retry -> attempt again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, Callable, Iterable
from types import TracebackType
from typing import Any, Final, TypeVar
from urllib.parse import quote

import aiohttp
import msgspec
from multidict import CIMultiDictProxy
from yarl import URL

from . import _config, _params
from ._bulk import (
    ProgressCallback,
    Throttle,
    UserResult,
    UserResultIterator,
    check_concurrency,
    check_rate,
    gather_batch,
)
from ._errors import (
    AdGateError,
    APITimeoutError,
    DecodeError,
    IPBannedError,
    Redactor,
    ResponseTooLargeError,
    TransportError,
    UserBannedError,
    error_for_status,
    http_parse_message,
    scrub_text,
)
from ._response import RawResponse, decode_body
from ._retry import RETRY_STATUSES, RetryPolicy, parse_retry_after, retry_reason
from ._stats import SessionStats
from ._version import __version__
from .models.history import HISTORY_DECODER, History
from .models.personalized import PERSONALIZED_DECODER, Personalized

__all__ = ["AsyncSession"]

_log: Final = logging.getLogger(_config.LOGGER_NAME)
_DEBUG: Final = logging.DEBUG
_GET: Final = "GET"
_USER_AGENT: Final = f"adgate-async/{__version__}"
_HEADERS: Final = {"User-Agent": _USER_AGENT, "Accept": "application/json"}
# Faults a retry cannot fix: raised at once as a non-retryable TransportError.
_PERMANENT_TRANSPORT_ERRORS: Final = (
    aiohttp.ClientSSLError,
    aiohttp.InvalidURL,
    aiohttp.ServerFingerprintMismatch,
)

T = TypeVar("T")
R = TypeVar("R")
# What to do with a 2xx answer: (status, body, headers, redacted URL, attempt number) -> R.
_OnSuccess = Callable[[int, bytes, "CIMultiDictProxy[str]", str, int, float], R]


class AsyncSession:
    """A long-lived client for AdGate Get History and RevU Get Personalized.

    Create one at start-up and share it; every call is a coroutine::

        async with AsyncSession(aff_id=60000, api_key=KEY, wall_code="nQug", wall_id=567) as s:
            history = await s.get_history("user12345")
            offers = await s.get_personalized("user12345", numoffers=10)

    Without ``async with``, call ``await s.aclose()`` at shutdown. The HTTP pool is created
    lazily, on first use inside a running event loop, so the session itself may be built
    anywhere. A caller-supplied ``aiohttp.ClientSession`` (``session=``) is used as is and
    left open: its default headers stand, and so does its timeout unless ``timeout=`` is
    passed explicitly; ``max_connections`` does not apply to it.

    Retryable failures (transport faults, timeouts, 408, 429, 5xx) are retried up to
    ``max_retries`` times with exponential backoff and jitter (``retry_backoff * 2**n``,
    capped at ``retry_backoff_max``); a ``Retry-After`` header wins, up to 60 s. A 403 ban
    and every other 4xx are never retried. ``timeout`` (seconds, or None for none) bounds
    each attempt, including any wait for a free pooled connection. A body larger than
    ``max_response_bytes`` (default 64 MiB) is not read: ``ResponseTooLargeError``.
    """

    def __init__(
        self,
        *,
        aff_id: int,
        api_key: str,
        wall_code: str,
        wall_id: int | None = None,
        adgate_base_url: str = _config.ADGATE_BASE_URL,
        revu_base_url: str = _config.REVU_BASE_URL,
        max_retries: int = _config.MAX_RETRIES,
        retry_backoff: float = _config.RETRY_BACKOFF,
        retry_backoff_max: float = _config.RETRY_BACKOFF_MAX,
        timeout: float | None = _config.TIMEOUT,
        max_connections: int = _config.MAX_CONNECTIONS,
        session: aiohttp.ClientSession | None = None,
        max_response_bytes: int = _config.MAX_RESPONSE_BYTES,
    ) -> None:
        self._aff_id = _params.check_positive_int("aff_id", aff_id)
        api_key = _params.check_nonempty_str("api_key", api_key, secret=True)
        self._wall_code = _params.check_nonempty_str("wall_code", wall_code)
        self._wall_id = None if wall_id is None else _params.check_positive_int(
            "wall_id", wall_id
        )
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise _params.invalid("session", "must be an aiohttp.ClientSession or None", session)
        self._redactor = redactor = Redactor(api_key)
        adgate = _params.check_base_url("adgate_base_url", adgate_base_url, redactor.text)
        self._revu_base_url = _params.check_base_url("revu_base_url", revu_base_url,
                                                     redactor.text)
        self._retry = RetryPolicy(
            max_retries=_params.check_max_retries(max_retries),
            backoff=_params.check_non_negative("retry_backoff", retry_backoff),
            backoff_max=_params.check_non_negative("retry_backoff_max", retry_backoff_max),
        )
        if session is not None and timeout is _config.TIMEOUT:
            # A caller's session keeps its own timeout unless ``timeout=`` is passed.
            self._timeout = session.timeout
            self._timeout_seconds = _seconds(session.timeout)
        else:
            if timeout is not None:
                timeout = _params.check_non_negative("timeout", timeout, allow_zero=False)
            self._timeout = aiohttp.ClientTimeout(total=timeout)
            self._timeout_seconds = timeout
        self._max_connections = _params.check_positive_int(
            "max_connections", max_connections, _config.MAX_CONNECTIONS_MAX
        )
        self._max_response_bytes = _params.check_positive_int(
            "max_response_bytes", max_response_bytes
        )

        # The fixed part of every history URL, built once; the user id is appended per call.
        fixed = (
            f"{adgate}{_config.HISTORY_PATH}?aff_id={self._aff_id}&api_key={{}}"
            f"&wall_code={quote(self._wall_code, safe='')}&user_id="
        )
        self._history_prefix = fixed.format(quote(api_key, safe=""))
        self._history_prefix_redacted = fixed.format(_config.REDACTED)

        self._client: aiohttp.ClientSession | None = session
        self._owns_client = session is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        # A caller's session keeps its own default headers: ours only fill in what it lacks.
        self._headers = {
            name: value for name, value in _HEADERS.items()
            if session is None or name not in session.headers
        }
        #: Counters of what this session has done (see :class:`SessionStats`).
        self.stats = SessionStats()
        self._decode_history = _Decode(HISTORY_DECODER, redactor)
        self._decode_personalized = _Decode(PERSONALIZED_DECODER, redactor)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> AsyncSession:
        self._http()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP pool (unless it was supplied by the caller). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            await client.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` has been called."""
        return self._closed

    def __repr__(self) -> str:
        return (
            f"AsyncSession(aff_id={self._aff_id}, wall_code={self._wall_code!r}, "
            f"wall_id={self._wall_id}, api_key={_config.REDACTED!r}, closed={self._closed})"
        )

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this AsyncSession is closed; create a new one")

    def _http(self) -> aiohttp.ClientSession:
        """The aiohttp session, created on first use inside the running loop."""
        self._check_open()
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
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                timeout=self._timeout,
                headers=self._headers,
            )
        return client

    # ----------------------------------------------------------------- public calls

    async def get_history(
        self,
        user_id: str,
        *,
        lang: str | None = None,
        continue_playing: bool | None = None,
        offer_ids: Iterable[int] | None = None,
    ) -> History:
        """Every offer ``user_id`` has interacted with, and the points earned on each.

        ``lang`` is the browser's Accept-Language value; ``continue_playing=True`` asks for
        the "Continue playing" offers; ``offer_ids`` filters by offer id.
        """
        options = _params.history_options(
            lang=lang, continue_playing=continue_playing, offer_ids=offer_ids
        )
        return await self._get_history_prepared(user_id, options)

    async def get_personalized(
        self,
        uid: str,
        *,
        numoffers: int,
        wall: int | None = None,
        sid3: str | None = None,
        device: str | None = None,
        ip: str | None = None,
        os_version: float | None = None,
        include_sortmetric: bool | None = None,
        bid_floor: float | None = None,
        experiment_id: str | None = None,
    ) -> Personalized:
        """The top ``numoffers`` (1..500) offers for user ``uid``, ranked best first.

        ``wall`` defaults to the session's ``wall_id``. Fetch when about to render: the
        answer is specific to the user and the moment. No API key is sent to this endpoint.
        """
        url = self._personalized_url(
            uid, numoffers=numoffers, wall=wall, sid3=sid3, device=device, ip=ip,
            os_version=os_version, include_sortmetric=include_sortmetric, bid_floor=bid_floor,
            experiment_id=experiment_id,
        )
        return await self._send(url, url, self._decode_personalized)

    async def gather_users(
        self,
        user_ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int | None = None,
        max_per_second: float | None = None,
        on_progress: ProgressCallback | None = None,
        lang: str | None = None,
        continue_playing: bool | None = None,
        offer_ids: Iterable[int] | None = None,
    ) -> list[UserResult]:
        """The history of every user in ``user_ids``, fetched ``concurrency`` at a time.

        Returns one :class:`UserResult` per input id, **in input order** (duplicates
        included): the history, or the typed error that ended that user's call (a ban, a 404,
        retries exhausted, a body that does not decode, an invalid id); ``result.index`` is
        its input position. One user's failure never stops the batch; closing the session
        under it does (a RuntimeError, no results). See :meth:`iter_users` for the other
        arguments.
        """
        concurrency, options, rate = self._batch_args(
            user_ids, concurrency=concurrency, max_per_second=max_per_second,
            on_progress=on_progress, lang=lang, continue_playing=continue_playing,
            offer_ids=offer_ids,
        )
        return await gather_batch(self, user_ids, concurrency=concurrency, options=options,
                                  max_per_second=rate, on_progress=on_progress)

    def iter_users(
        self,
        user_ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int | None = None,
        ordered: bool = False,
        buffer: int | None = None,
        max_per_second: float | None = None,
        on_progress: ProgressCallback | None = None,
        lang: str | None = None,
        continue_playing: bool | None = None,
        offer_ids: Iterable[int] | None = None,
    ) -> UserResultIterator:
        """Yield one :class:`UserResult` per input id, as soon as each completes.

        ``result.index`` is the id's position in the input, so an unordered result maps
        back to it even when two ids read the same (``5`` and ``"5"``).

        - ``user_ids``: any iterable or async iterable of str, consumed lazily (a generator
          over a huge file is fine); memory grows with ``concurrency``, not with the input.
          A plain iterable is read on the event loop, so its ``next()`` must not block
          (local file lines are fine; a socket, a database cursor or ``input()`` is not):
          give such a source as an async iterable instead.
        - ``concurrency``: requests in flight at most (default ``min(16, max_connections)``);
          above the connection pool size it is refused with a ValueError.
        - ``ordered``: yield in input order instead (a slow user then holds back later ones).
        - ``buffer``: ids in the pipeline at most (queued, in flight, or finished but not yet
          taken); default ``4 * concurrency``. A slow consumer pauses the workers.
        - ``max_per_second``: start at most this many users per second (the retries within
          one user's call are paced by the retry policy, not counted here).
        - ``on_progress(done, total, errors)``: called after each result; ``total`` is None
          when the input has no ``len()``.
        - ``lang``, ``continue_playing``, ``offer_ids``: as for :meth:`get_history`, for every
          user; checked here, before any request.

        Whenever one of the batch's answers carries ``Retry-After`` with a 429 or 503, the
        whole batch holds new requests and retries until then (60 s at most per answer);
        other calls on the session are not held.

        The workers belong to the task iterating: when it finishes (done, failed, or
        cancelled anywhere, even in the loop body), they are cancelled. ``async with
        s.iter_users(...) as results:`` (or ``aclose()``) stops and awaits them at a known
        point; breaking out of the loop cancels them once the iterator is dropped. Closing
        the session under a running batch stops it with a RuntimeError ("the AsyncSession
        was closed while ..."); results already yielded stand, users in flight get none.
        """
        return self._batch(user_ids, concurrency=concurrency, ordered=ordered, buffer=buffer,
                           max_per_second=max_per_second, on_progress=on_progress,
                           lang=lang, continue_playing=continue_playing, offer_ids=offer_ids)

    def _batch(
        self,
        user_ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int | None,
        ordered: bool,
        buffer: int | None,
        max_per_second: float | None,
        on_progress: ProgressCallback | None,
        lang: str | None,
        continue_playing: bool | None,
        offer_ids: Iterable[int] | None,
    ) -> UserResultIterator:
        """Validate everything, then hand over to the bulk engine (nothing runs until
        the first item is asked for)."""
        checked, options, rate = self._batch_args(
            user_ids, concurrency=concurrency, max_per_second=max_per_second,
            on_progress=on_progress, lang=lang, continue_playing=continue_playing,
            offer_ids=offer_ids,
        )
        if buffer is None:
            buffer = 4 * checked
        else:
            buffer = _params.check_int(
                "buffer", buffer, checked, _config.BULK_BUFFER_MAX,
                f"must be an int from concurrency ({checked}) to {_config.BULK_BUFFER_MAX}",
            )
        if not isinstance(ordered, bool):
            raise _params.invalid("ordered", "must be a bool", ordered)
        return UserResultIterator(
            self, user_ids, concurrency=checked, window=buffer, options=options,
            max_per_second=rate, on_progress=on_progress, ordered=ordered,
        )

    def _batch_args(
        self,
        user_ids: object,
        *,
        concurrency: int | None,
        max_per_second: float | None,
        on_progress: ProgressCallback | None,
        lang: str | None,
        continue_playing: bool | None,
        offer_ids: Iterable[int] | None,
    ) -> tuple[int, str, float | None]:
        """The checks every batch makes before any request: (concurrency, options, rate)."""
        self._check_open()
        if isinstance(user_ids, str | bytes) or not isinstance(
            user_ids, Iterable | AsyncIterable
        ):
            raise _params.invalid(
                "user_ids", "must be an iterable or async iterable of str ids", user_ids
            )
        pool = self._pool_size()
        if concurrency is None:
            concurrency = min(_config.BULK_CONCURRENCY, pool or _config.BULK_CONCURRENCY)
        if on_progress is not None and not callable(on_progress):
            raise _params.invalid("on_progress", "must be callable or None", on_progress)
        options = _params.history_options(
            lang=lang, continue_playing=continue_playing, offer_ids=offer_ids
        )
        return check_concurrency(concurrency, pool), options, check_rate(max_per_second)

    def _pool_size(self) -> int | None:
        """How many connections the pool allows (None: no limit)."""
        if self._owns_client:
            return self._max_connections
        connector = self._client.connector if self._client is not None else None
        limits = [getattr(connector, name, 0) for name in ("limit", "limit_per_host")]
        positive = [n for n in limits if isinstance(n, int) and n > 0]
        return min(positive) if positive else None  # each call goes to one host

    @property
    def with_raw_response(self) -> RawResponseCalls:
        """The same calls, returning :class:`RawResponse` (status, headers, body bytes)::

            raw = await s.with_raw_response.get_personalized("u1", numoffers=5)
            raw.json()["offers"][0].get("a_field_the_models_do_not_know")
            offers = raw.parse()
        """
        return RawResponseCalls(self)

    # ------------------------------------------------------------- URL building

    def _history_url(self, user_id: object, options: str) -> tuple[str, str]:
        """The URL and its redacted twin; ``options`` comes from ``history_options``."""
        tail = quote(_params.check_user_id(user_id), safe="") + options
        return self._history_prefix + tail, self._history_prefix_redacted + tail

    async def _get_history_prepared(self, user_id: object, options: str) -> History:
        url, redacted = self._history_url(user_id, options)
        return await self._send(url, redacted, self._decode_history)

    def _personalized_url(self, uid: object, *, wall: object, **query: object) -> str:
        path = _params.personalized_path(uid)
        if wall is None:
            wall = self._wall_id
        return f"{self._revu_base_url}{path}?{_params.personalized_query(wall=wall, **query)}"

    # --------------------------------------------------------------- request path

    async def _send(
        self, url: str, redacted: str, on_success: _OnSuccess[R],
        throttle: Throttle | None = None,
    ) -> R:
        """One call: a first attempt made directly, then the retry loop only if it failed.

        ``throttle`` is given by a batch for its own calls only: a 429/503 with Retry-After
        pauses that batch, and each retry first waits out the batch's pause. A call without
        one is never held by any batch.
        """
        client = self._http()
        stats = self.stats
        stats.requests += 1
        try:
            result = await self._attempt(client, url, redacted, on_success, 1)
        except AdGateError as exc:
            error = exc
        else:
            stats.successes += 1
            return result
        # Outside the except block from here on: nothing gets chained onto the error.
        if throttle is not None:
            throttle.note(error)
        if self._retry.max_retries and self._retry.should_retry(error):

            async def attempt(number: int) -> R:
                if throttle is not None:
                    await throttle.wait_pause()
                if self._closed:  # not aiohttp's bare "Session is closed"
                    raise RuntimeError(
                        "the AsyncSession was closed while this call was being retried"
                    )
                if throttle is None:
                    return await self._attempt(client, url, redacted, on_success, number)
                try:
                    return await self._attempt(client, url, redacted, on_success, number)
                except AdGateError as exc:
                    throttle.note(exc)
                    raise

            def on_retry(exc: BaseException, delay: float, number: int) -> None:
                self._count_retry(exc, delay, number, redacted)

            try:
                result = await self._retry.retry(error, attempt, on_retry)
            except AdGateError as exc:
                error = exc
            else:
                stats.successes += 1
                return result
        stats.failures += 1
        name = type(error).__name__
        stats.errors_by_type[name] = stats.errors_by_type.get(name, 0) + 1
        raise error

    def _count_retry(self, exc: BaseException, delay: float, number: int, redacted: str) -> None:
        stats = self.stats
        reason = retry_reason(exc) or "other"
        stats.retries += 1
        stats.retries_by_reason[reason] = stats.retries_by_reason.get(reason, 0) + 1
        stats.seconds_slept += delay
        _log.info(
            "retrying GET %s in %.2f s (attempt %d of %d) after %s",
            redacted, delay, number, self._retry.max_retries + 1, reason,
        )

    async def _attempt(
        self,
        client: aiohttp.ClientSession,
        url: str,
        redacted: str,
        on_success: _OnSuccess[R],
        number: int,
    ) -> R:
        self.stats.attempts += 1
        started = time.perf_counter()
        error: AdGateError | None = None
        try:
            async with client.get(
                URL(url, encoded=True),
                allow_redirects=False,
                timeout=self._timeout,
                raise_for_status=False,
                headers=None if self._owns_client else self._headers,
            ) as resp:
                status = resp.status
                headers = resp.headers
                reason = resp.reason
                length = resp.content_length
                if (length is not None and length <= self._max_response_bytes
                        and "Content-Encoding" not in headers):
                    body = await resp.read()  # the common case: size known and fine
                else:
                    body = await self._read_capped(resp)
        except ResponseTooLargeError as exc:
            exc.method, exc.url, exc.attempts = _GET, redacted, number
            error = exc
        except TimeoutError:
            error = APITimeoutError(
                f"request timed out after {self._timeout_seconds} s",
                method=_GET, url=redacted, attempts=number,
            )
        except (aiohttp.ClientError, OSError) as exc:
            error = TransportError(
                # Redacted and cut to the cap; an HTTP parse failure without the bytes dump.
                scrub_text(self._redactor, http_parse_message(exc.message, self._redactor)
                           if isinstance(exc, aiohttp.ClientResponseError)
                           else f"{type(exc).__name__}: {exc}"),
                method=_GET, url=redacted, attempts=number,
                retryable=not isinstance(exc, _PERMANENT_TRANSPORT_ERRORS),
            )
        elapsed = time.perf_counter() - started
        if error is not None:
            if _log.isEnabledFor(_DEBUG):
                _log.debug("GET %s -> %s in %.1f ms (attempt %d)",
                           redacted, type(error).__name__, elapsed * 1e3, number)
            raise error
        if _log.isEnabledFor(_DEBUG):
            _log.debug("GET %s -> %d in %.1f ms (attempt %d)",
                       redacted, status, elapsed * 1e3, number)
        if 200 <= status < 300:
            try:
                return on_success(status, body, headers, redacted, number, elapsed)
            except DecodeError as exc:  # its body is already scrubbed of the key
                self.stats.decode_errors += 1
                error = exc
            raise error
        retry_after = None
        if status in RETRY_STATUSES:
            try:
                retry_after = parse_retry_after(headers.get("Retry-After"))
            except (OverflowError, ValueError):  # a date beyond what the platform handles
                retry_after = None
        status_error = error_for_status(
            status=status, reason=reason, body=body, headers=headers, method=_GET,
            url=redacted, redactor=self._redactor, retry_after=retry_after,
        )
        status_error.attempts = number
        if isinstance(status_error, UserBannedError | IPBannedError):
            self.stats.bans += 1
        raise status_error

    async def _read_capped(self, resp: aiohttp.ClientResponse) -> bytes:
        """Read a body of unknown (or too large) size, stopping past max_response_bytes."""
        limit = self._max_response_bytes
        length = resp.content_length
        if length is not None and length > limit:  # compressed or not: already too big
            raise ResponseTooLargeError(limit, length)
        # Counted after decompression: a small gzip body can unpack to gigabytes.
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_any():
            size += len(chunk)
            if size > limit:
                raise ResponseTooLargeError(limit, None)
            chunks.append(chunk)
        return b"".join(chunks)


def _seconds(timeout: aiohttp.ClientTimeout) -> float | None:
    """The time limit a ClientTimeout puts on an attempt, for messages: its total, else
    its shortest other limit (None: no limit at all)."""
    if timeout.total is not None:
        return timeout.total
    limits = [t for t in (timeout.connect, timeout.sock_connect, timeout.sock_read) if t]
    return min(limits) if limits else None


class _Decode:
    """A 2xx handler that decodes into one model (the decoder is built once, at import)."""

    __slots__ = ("_decoder", "_redactor")

    def __init__(self, decoder: msgspec.json.Decoder[Any], redactor: Redactor) -> None:
        self._decoder = decoder
        self._redactor = redactor

    def __call__(
        self, status: int, body: bytes, headers: CIMultiDictProxy[str], url: str, attempts: int,
        elapsed: float,
    ) -> Any:
        return decode_body(self._decoder, body, status=status, method=_GET, url=url,
                           attempts=attempts, redactor=self._redactor)


class _Raw:
    """A 2xx handler that keeps the answer undecoded."""

    __slots__ = ("_decoder", "_redactor")

    def __init__(self, decoder: msgspec.json.Decoder[Any], redactor: Redactor) -> None:
        self._decoder = decoder
        self._redactor = redactor

    def __call__(
        self, status: int, body: bytes, headers: CIMultiDictProxy[str], url: str, attempts: int,
        elapsed: float,
    ) -> RawResponse[Any]:
        return RawResponse(
            status=status, headers=self._redactor.headers(headers.items()), content=body,
            method=_GET, url=url, attempts=attempts, elapsed=elapsed, decoder=self._decoder,
            redactor=self._redactor,
        )


class RawResponseCalls:
    """``session.with_raw_response``: each call returns a :class:`RawResponse`."""

    __slots__ = ("_session",)

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_history(
        self,
        user_id: str,
        *,
        lang: str | None = None,
        continue_playing: bool | None = None,
        offer_ids: Iterable[int] | None = None,
    ) -> RawResponse[History]:
        """Like :meth:`AsyncSession.get_history`, but undecoded."""
        s = self._session
        options = _params.history_options(
            lang=lang, continue_playing=continue_playing, offer_ids=offer_ids
        )
        url, redacted = s._history_url(user_id, options)
        return await s._send(url, redacted, _Raw(HISTORY_DECODER, s._redactor))

    async def get_personalized(
        self,
        uid: str,
        *,
        numoffers: int,
        wall: int | None = None,
        sid3: str | None = None,
        device: str | None = None,
        ip: str | None = None,
        os_version: float | None = None,
        include_sortmetric: bool | None = None,
        bid_floor: float | None = None,
        experiment_id: str | None = None,
    ) -> RawResponse[Personalized]:
        """Like :meth:`AsyncSession.get_personalized`, but undecoded."""
        s = self._session
        url = s._personalized_url(
            uid, numoffers=numoffers, wall=wall, sid3=sid3, device=device, ip=ip,
            os_version=os_version, include_sortmetric=include_sortmetric, bid_floor=bid_floor,
            experiment_id=experiment_id,
        )
        return await s._send(url, url, _Raw(PERSONALIZED_DECODER, s._redactor))
