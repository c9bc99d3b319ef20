"""AsyncSession: configuration, the lifecycle of the HTTP pool, and the public calls.

Each call flows one way: its options are checked and its request built by its endpoint
module (:mod:`._endpoints`), one attempt is made by :mod:`._transport` (a 2xx answer or a
typed error, status mapping included), failures are retried by :mod:`._retry`, and the
answer is decoded by :mod:`._response`. Batches run on :mod:`._bulk`, which the session
hands a fetch function; nothing below the session knows it.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from functools import partial
from typing import Any, Final, TypeVar, Unpack

import aiohttp
import msgspec

from . import _config, _params
from ._bulk import BatchIterator, BatchResult, Job, MakeResult, ProgressCallback, gather_batch
from ._endpoints import history as _history
from ._endpoints import personalized as _personalized
from ._endpoints.history import HistoryOptions
from ._endpoints.personalized import PersonalizedOptions
from ._errors import DecodeError, InvalidParameterError
from ._pool import Pool
from ._redact import Redactor
from ._response import RawResponse, RawResponseCalls, decode_body
from ._results import (
    PersonalizedResult,
    UserResult,
    UserResultIterator,
    make_personalized_result,
    make_user_result,
)
from ._retry import Gate, RetryBudget, RetryPolicy
from ._stats import SessionStats
from ._throttle import Throttle
from ._transport import GET, Answer, Request, Transport, timeout_seconds
from ._version import __version__
from .models.history import History
from .models.personalized import Personalized

__all__ = ["AsyncSession"]

_HEADERS: Final = {"User-Agent": f"adgate-async/{__version__}", "Accept": "application/json"}

T = TypeVar("T")
R = TypeVar("R", bound=BatchResult)


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
        self._aff_id = _params.check_id_int("aff_id", aff_id)
        api_key = _params.check_nonempty_str("api_key", api_key, secret=True)
        self._wall_code = _params.check_nonempty_str("wall_code", wall_code)
        self._wall_id = None if wall_id is None else _params.check_id_int("wall_id", wall_id)
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise InvalidParameterError(
                "session", "must be an aiohttp.ClientSession or None", session
            )
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
            client_timeout, seconds = session.timeout, timeout_seconds(session.timeout)
        else:
            if timeout is not None:
                timeout = _params.check_non_negative("timeout", timeout, allow_zero=False)
            client_timeout, seconds = aiohttp.ClientTimeout(total=timeout), timeout
        max_connections = _params.check_positive_int(
            "max_connections", max_connections, _config.MAX_CONNECTIONS_MAX
        )
        max_response_bytes = _params.check_positive_int("max_response_bytes",
                                                        max_response_bytes)
        # Each endpoint's fixed URL parts (and the key's redacted twin), built once.
        self._history = _history.HistoryURLs(adgate, aff_id=self._aff_id, api_key=api_key,
                                             wall_code=self._wall_code)
        self._personalized = _personalized.PersonalizedURLs(self._revu_base_url)

        self._pool = Pool(session, limit=max_connections, timeout=client_timeout,
                          headers=_HEADERS)
        #: Counters of what this session has done (see :class:`SessionStats`).
        self.stats = SessionStats()
        self._transport = Transport(
            timeout=client_timeout, timeout_seconds=seconds,
            max_response_bytes=max_response_bytes, redactor=redactor, stats=self.stats,
            headers=self._pool.request_headers,
        )

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> AsyncSession:
        self._pool.client()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP pool (unless it was supplied by the caller). Safe to call twice."""
        await self._pool.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` has been called."""
        return self._pool.closed

    def __repr__(self) -> str:
        return (
            f"AsyncSession(aff_id={self._aff_id}, wall_code={self._wall_code!r}, "
            f"wall_id={self._wall_id}, api_key={_config.REDACTED!r}, closed={self.closed})"
        )

    # ----------------------------------------------------------------- public calls

    async def get_history(self, user_id: str, **options: Unpack[HistoryOptions]) -> History:
        """Every offer ``user_id`` has interacted with, and the points earned on each.

        Options (each optional): ``lang``, the browser's Accept-Language value;
        ``continue_playing=True`` asks for the "Continue playing" offers; ``offer_ids``
        filters by offer id. An unknown keyword is a TypeError, as for any function.
        """
        return await self._get(self._history_request(user_id, options), _history.DECODER)

    async def get_personalized(
        self, uid: str, **options: Unpack[PersonalizedOptions]
    ) -> Personalized:
        """The top ``numoffers`` (1..500) offers for user ``uid``, ranked best first.

        Options: ``numoffers`` (required); ``wall`` (default: the session's ``wall_id``);
        ``sid3``, ``device`` (``"desktop"``, ``"ios"``, ``"android"``), ``ip`` (IPv4),
        ``os_version``, ``include_sortmetric``, ``bid_floor``, ``experiment_id``. Fetch when
        about to render: the answer is specific to the user and the moment. No API key is
        sent to this endpoint.
        """
        return await self._get(self._personalized_request(uid, options),
                               _personalized.DECODER)

    async def gather_users(
        self,
        user_ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int | None = None,
        max_per_second: float | None = None,
        on_progress: ProgressCallback | None = None,
        retry_budget: float | None = _config.RETRY_BUDGET_RATIO,
        **options: Unpack[HistoryOptions],
    ) -> list[UserResult]:
        """The history of every user in ``user_ids``, fetched ``concurrency`` at a time.

        Returns one :class:`UserResult` per input id, **in input order** (duplicates
        included): the history, or the typed error that ended that user's call (a ban, a 404,
        retries exhausted, a body that does not decode, an invalid id); ``result.index`` is
        its input position. One user's failure never stops the batch; closing the session
        under it does (a RuntimeError, no results). See :meth:`iter_users` for the other
        arguments.
        """
        job, checked = self._job(
            "gather_users", user_ids, concurrency, max_per_second, on_progress, retry_budget,
            self._history.request, self._history_query(options), _history.DECODER,
            make_user_result, "user_ids",
        )
        return await gather_batch(job, checked)

    def iter_users(
        self,
        user_ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int | None = None,
        ordered: bool = False,
        buffer: int | None = None,
        max_per_second: float | None = None,
        on_progress: ProgressCallback | None = None,
        retry_budget: float | None = _config.RETRY_BUDGET_RATIO,
        **options: Unpack[HistoryOptions],
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
        - ``retry_budget``: retries add at most 10 + this share of the users (None: no cap).
        - ``**options`` (``lang``, ``continue_playing``, ``offer_ids``): as for
          :meth:`get_history`, for every user; checked here, before any request.

        Whenever one of the batch's answers carries ``Retry-After`` with a 429 or 503, the
        whole batch holds new requests and retries until then (60 s at most per answer);
        other calls on the session are not held.

        The workers belong to the task that last asked for a result: when it fails or is
        cancelled (anywhere, even in the loop body), they are cancelled, and a later
        ``__anext__`` raises a RuntimeError saying so. A task that asked and returned
        (``asyncio.wait_for(anext(it), t)`` runs each call in one) hands the batch on. ``async with
        s.iter_users(...) as results:`` (or ``aclose()``) stops and awaits them at a known
        point; breaking out of the loop cancels them once the iterator is dropped. Closing
        the session under a running batch stops it with a RuntimeError ("the AsyncSession
        was closed while ..."); results already yielded stand, users in flight get none.
        """
        job, checked = self._job(
            "iter_users", user_ids, concurrency, max_per_second, on_progress, retry_budget,
            self._history.request, self._history_query(options), _history.DECODER,
            make_user_result, "user_ids",
        )
        window = _params.check_stream(checked, buffer=buffer, ordered=ordered)
        return UserResultIterator(job, concurrency=checked, window=window, ordered=ordered)

    async def gather_personalized(
        self,
        uids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int | None = None,
        max_per_second: float | None = None,
        on_progress: ProgressCallback | None = None,
        retry_budget: float | None = _config.RETRY_BUDGET_RATIO,
        **options: Unpack[PersonalizedOptions],
    ) -> list[PersonalizedResult]:
        """The offers of every user in ``uids`` (a bulk ban check, say), in input order:
        one :class:`PersonalizedResult` per id, the offers or the typed error (a
        :class:`UserBannedError` for a banned user). The options (``numoffers`` required)
        are those of :meth:`get_personalized`, the same for every user; the rest is as for
        :meth:`gather_users`."""
        job, checked = self._personalized_job("gather_personalized", uids, concurrency,
                                              max_per_second, on_progress, retry_budget, options)
        return await gather_batch(job, checked)

    def iter_personalized(
        self,
        uids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int | None = None,
        ordered: bool = False,
        buffer: int | None = None,
        max_per_second: float | None = None,
        on_progress: ProgressCallback | None = None,
        retry_budget: float | None = _config.RETRY_BUDGET_RATIO,
        **options: Unpack[PersonalizedOptions],
    ) -> BatchIterator[PersonalizedResult]:
        """Yield one :class:`PersonalizedResult` per id in ``uids``, as soon as each
        completes, with the guarantees and arguments of :meth:`iter_users` (bounded memory,
        ``index``, typed errors, the batch's shared pause, clean cancellation). The options
        (``numoffers`` required) are those of :meth:`get_personalized`, for every user."""
        job, checked = self._personalized_job("iter_personalized", uids, concurrency,
                                              max_per_second, on_progress, retry_budget, options)
        window = _params.check_stream(checked, buffer=buffer, ordered=ordered)
        return BatchIterator(job, concurrency=checked, window=window, ordered=ordered)

    @property
    def with_raw_response(self) -> RawResponseCalls:
        """The same calls, returning :class:`RawResponse` (status, headers, body bytes)::

            raw = await s.with_raw_response.get_personalized("u1", numoffers=5)
            raw.json()["offers"][0].get("a_field_the_models_do_not_know")
            offers = raw.parse()
        """
        return RawResponseCalls(self._raw, self._history_request, self._personalized_request)

    # ------------------------------------------------------------- request path

    def _history_query(self, options: HistoryOptions) -> str:
        self._pool.check_open()  # a closed session is told first, before any bad option
        return _history.history_options(**options) if options else ""

    def _history_request(self, user_id: object, options: HistoryOptions) -> Request:
        return self._history.request(user_id, self._history_query(options))

    def _personalized_request(self, uid: object, options: PersonalizedOptions) -> Request:
        query = _personalized.personalized_query(default_wall=self._wall_id, **options)
        return self._personalized.request(uid, query)

    def _personalized_job(
        self, name: str, uids: Iterable[str] | AsyncIterable[str], concurrency: object,
        max_per_second: object, on_progress: ProgressCallback | None, retry_budget: object,
        options: PersonalizedOptions,
    ) -> tuple[Job[Any, Personalized, PersonalizedResult], int]:
        self._pool.check_open()  # a closed session is told first, before any bad option
        query = _personalized.personalized_query(default_wall=self._wall_id, **options)
        return self._job(name, uids, concurrency, max_per_second, on_progress, retry_budget,
                         self._personalized.request, query, _personalized.DECODER,
                         make_personalized_result, "uids")

    def _job(
        self, name: str, items: Iterable[str] | AsyncIterable[str], concurrency: object,
        max_per_second: object, on_progress: ProgressCallback | None, retry_budget: object,
        request: Callable[[object, str], Request], query: str,
        decoder: msgspec.json.Decoder[T], make: MakeResult[Any, T, R], items_name: str,
    ) -> tuple[Job[Any, T, R], int]:
        """A batch's job, its arguments checked first: ``request(item, query)``, ``decoder``."""
        self._pool.check_open()
        checked, rate, ratio = _params.check_batch(
            items, name=items_name, concurrency=concurrency, max_per_second=max_per_second,
            on_progress=on_progress, retry_budget=retry_budget, pool_size=self._pool.size())
        budget = None if ratio is None else RetryBudget(ratio, on_skip=self.stats.count_skip)

        def fetch(item: object, throttle: Throttle) -> Awaitable[Answer]:
            return self._send(request(item, query), throttle, budget)

        return Job(items, fetch, partial(self._decode, decoder=decoder), make, name=name,
                   closed=lambda: self.closed, max_per_second=rate,
                   on_progress=on_progress), checked

    async def _get(self, request: Request, decoder: msgspec.json.Decoder[T]) -> T:
        """One call: its answer decoded into the model."""
        return self._decode(await self._send(request), decoder)

    def _decode(self, answer: Answer, decoder: msgspec.json.Decoder[T]) -> T:
        """A call's answer decoded into the model (a batch's, in the task taking it)."""
        try:
            value = decode_body(decoder, answer.body, status=answer.status, method=GET,
                                url=answer.request.redacted, attempts=answer.attempt,
                                redactor=self._redactor)
        except DecodeError as exc:  # its body is already scrubbed of the key
            self.stats.decode_errors += 1
            self.stats.count_failure(exc)
            raise
        self.stats.successes += 1
        return value

    def _send(self, request: Request, gate: Gate | None = None,
              budget: RetryBudget | None = None) -> Awaitable[Answer]:
        """One call's 2xx answer, retries included (see :meth:`RetryPolicy.send`; no
        coroutine of its own, so the success path carries no extra frame).

        A batch passes its ``gate`` (its pause: set by a 429/503 with Retry-After, waited
        out before each retry) and retry ``budget`` with its own calls only, no other call.
        """
        client = self._pool.client()
        stats = self.stats
        stats.requests += 1
        return self._retry.send(
            partial(self._transport.attempt, client, request), label=request.redacted,
            on_retry=stats.count_retry, on_failure=stats.count_failure, gate=gate,
            check=self._pool.check_still_open, budget=budget,
        )

    async def _raw(self, request: Request, decoder: msgspec.json.Decoder[T]) -> RawResponse[T]:
        """One call's answer, undecoded (see :attr:`with_raw_response`)."""
        raw = RawResponse.of(await self._send(request), decoder, self._redactor)
        self.stats.successes += 1
        return raw
