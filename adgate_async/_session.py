"""AsyncSession: the public calls (its settings, pool and lifecycle: :mod:`._base_session`).

Each call flows one way: its options are checked and its request built by its endpoint
module (:mod:`._endpoints`), one attempt is made by :mod:`._transport` (a 2xx answer or a
typed error, status mapping included), failures are retried by :mod:`._retry`, and the
answer is decoded by :mod:`._response`. Batches run on :mod:`._bulk`, which the session
hands a fetch function; nothing below the session knows it.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from functools import partial
from typing import Any, TypeVar, Unpack

import msgspec

from . import _config, _params
from ._base_session import SessionBase
from ._bulk import BatchIterator, BatchResult, Job, MakeResult, ProgressCallback, gather_batch
from ._endpoints import history as _history
from ._endpoints import personalized as _personalized
from ._endpoints.history import HistoryOptions
from ._endpoints.personalized import PersonalizedOptions
from ._errors import DecodeError
from ._response import RawResponse, RawResponseCalls, decode_body
from ._results import (
    PersonalizedResult,
    UserResult,
    UserResultIterator,
    make_personalized_result,
    make_user_result,
)
from ._retry import Gate, RetryBudget
from ._throttle import Throttle
from ._transport import GET, Answer, Request
from .models.history import History
from .models.personalized import Personalized

__all__ = ["AsyncSession"]

T = TypeVar("T")
R = TypeVar("R", bound=BatchResult)


class AsyncSession(SessionBase):
    """A long-lived client for AdGate Get History and RevU Get Personalized.

    Create one at start-up and share it; every call is a coroutine::

        async with AsyncSession(aff_id=60000, api_key=KEY, wall_code="nQug", wall_id=567) as s:
            history = await s.get_history("user12345")
            offers = await s.get_personalized("user12345", numoffers=10)

    Without ``async with``, ``await s.aclose()`` at shutdown. The pool is created lazily in the
    running loop. A caller's ``session=`` is used as is and left open (its headers and timeout
    stand unless ``headers=``/``timeout=`` are given; ``trust_env``/``proxy`` are refused).
    Credentials and base URLs left out are read from ADGATE_AFF_ID, ADGATE_API_KEY,
    ADGATE_WALL_CODE, REVU_WALL_ID, ADGATE_BASE_URL, REVU_BASE_URL (a bad value names the
    variable, never its value). Without all three AdGate credentials (RevU only:
    ``AsyncSession(wall_id=567)``), Get History calls are refused before any request, naming
    what is missing; with no credential and no wall_id the session is. ``headers`` go with
    every request (``User-Agent`` there replaces ours). ``trust_env=True`` honours
    HTTP(S)_PROXY/NO_PROXY; ``proxy=`` names a proxy. Transport faults, timeouts, 408, 429
    and 5xx are retried ``max_retries`` times (backoff ``retry_backoff * 2**n`` with jitter,
    at most ``retry_backoff_max``; ``Retry-After`` wins, up to 60 s). ``timeout`` (seconds,
    None: none) bounds each attempt; a body over ``max_response_bytes`` is not read.
    :meth:`with_options` gives a view with other timeout and retry settings. Answers decode
    leniently (``"points": "150"`` is 150); ``strict=True`` refuses that. ``trace_configs``
    (aiohttp ``TraceConfig``s, for our own pool) and any tracing never see the key;
    ``on_attempt(info)`` is told of each attempt's end (see :class:`AttemptInfo`).
    """

    # ----------------------------------------------------------------- public calls

    async def get_history(self, user_id: str, **options: Unpack[HistoryOptions]) -> History:
        """Every offer ``user_id`` has interacted with, and the points earned on each.

        Options (each optional): ``lang``, the browser's Accept-Language value;
        ``continue_playing=True`` asks for the "Continue playing" offers; ``offer_ids``
        filters by offer id. An unknown keyword is a TypeError, as for any function.
        """
        return await self._get(self._history_request(user_id, options), self._history_decoder)

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
                               self._personalized_decoder)

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
            self._history.request, self._history_query(options), self._history_decoder,
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
            self._history.request, self._history_query(options), self._history_decoder,
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
        return RawResponseCalls(self._raw, self._history_request, self._personalized_request,
                                self._history_decoder, self._personalized_decoder)

    # ------------------------------------------------------------- request path

    def _history_query(self, options: HistoryOptions) -> str:
        self._pool.check_open()  # a closed session is told first, before any bad option
        self._settings.check_history()  # then missing credentials
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
                         self._personalized.request, query, self._personalized_decoder,
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
                                url=answer.request.url, attempts=answer.attempt,
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
            partial(self._transport.attempt, client, request), label=request.url,
            on_retry=stats.count_retry, on_failure=stats.count_failure, gate=gate,
            check=self._pool.check_still_open, budget=budget,
        )

    async def _raw(self, request: Request, decoder: msgspec.json.Decoder[T]) -> RawResponse[T]:
        """One call's answer, undecoded (see :attr:`with_raw_response`)."""
        raw = RawResponse.of(await self._send(request), decoder, self._redactor)
        self.stats.successes += 1
        return raw
