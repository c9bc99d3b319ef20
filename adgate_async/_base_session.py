"""SessionBase: what every AsyncSession holds besides its calls: its checked settings
(:mod:`._settings`), its HTTP pool (:mod:`._pool`), its counters and the transport making
its attempts; its lifecycle (``async with``, ``aclose``); and its views (``with_options``):
sessions sharing all of that but their timeout and retry settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Self

import aiohttp

from . import _config, _params
from ._endpoints import history as _history
from ._endpoints import personalized as _personalized
from ._hooks import AttemptHook, AttemptReporter, check_on_attempt
from ._pool import Pool
from ._settings import NOT_GIVEN, NotGiven, Settings, history_urls, resolve
from ._stats import SessionStats
from ._transport import Transport

__all__ = ["SessionBase"]


class SessionBase:
    """The settings, pool and lifecycle of a session (see :class:`AsyncSession`)."""

    def __init__(
        self, *, aff_id: int | NotGiven = NOT_GIVEN, api_key: str | NotGiven = NOT_GIVEN,
        wall_code: str | NotGiven = NOT_GIVEN, wall_id: int | NotGiven | None = NOT_GIVEN,
        adgate_base_url: str | NotGiven = NOT_GIVEN, revu_base_url: str | NotGiven = NOT_GIVEN,
        max_retries: int = _config.MAX_RETRIES, retry_backoff: float = _config.RETRY_BACKOFF,
        retry_backoff_max: float = _config.RETRY_BACKOFF_MAX,
        timeout: float | None = _config.TIMEOUT, max_connections: int = _config.MAX_CONNECTIONS,
        session: aiohttp.ClientSession | None = None,
        max_response_bytes: int = _config.MAX_RESPONSE_BYTES,
        headers: Mapping[str, str] | None = None, trust_env: bool = False,
        proxy: str | None = None, strict: bool = False,
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
        on_attempt: AttemptHook | None = None,
    ) -> None:
        settings = resolve(
            aff_id=aff_id, api_key=api_key, wall_code=wall_code, wall_id=wall_id,
            adgate_base_url=adgate_base_url, revu_base_url=revu_base_url,
            max_retries=max_retries, retry_backoff=retry_backoff,
            retry_backoff_max=retry_backoff_max, timeout=timeout,
            max_connections=max_connections, session=session,
            max_response_bytes=max_response_bytes, headers=headers, trust_env=trust_env,
            proxy=proxy, strict=strict,
        )
        checked_traces = _params.check_trace_configs(trace_configs, session)
        hook = check_on_attempt(on_attempt)
        # One reporter for the session and its views (it remembers what it has logged).
        self._on_attempt = None if hook is None else AttemptReporter(hook, settings.redactor)
        self._view = False
        self._wall_id = settings.wall_id
        self._redactor = settings.redactor
        # The decoders of the answers (built at import): lenient by default, or strict.
        self._history_decoder = _history.STRICT_DECODER if settings.strict else _history.DECODER
        self._personalized_decoder = (_personalized.STRICT_DECODER if settings.strict
                                      else _personalized.DECODER)
        # Each endpoint's fixed URL parts, built once.
        self._history = history_urls(settings, session)
        self._personalized = _personalized.PersonalizedURLs(settings.revu_base_url)
        self._pool = Pool(session, limit=settings.max_connections, timeout=settings.timeout,
                          headers=settings.headers, always=settings.given_headers,
                          trust_env=settings.trust_env, proxy=settings.proxy,
                          trace_configs=checked_traces)
        #: Counters of what this session has done (see :class:`SessionStats`).
        self.stats = SessionStats()
        self._configure(settings)

    def _configure(self, settings: Settings) -> None:
        """Take on the settings a view may change: retries and each attempt's timeout."""
        self._settings = settings
        self._retry = settings.retry_policy()
        self._transport = Transport(
            timeout=settings.timeout, timeout_seconds=settings.timeout_seconds,
            max_response_bytes=settings.max_response_bytes, redactor=self._redactor,
            stats=self.stats, headers=self._pool.request_headers, on_attempt=self._on_attempt,
        )

    def with_options(
        self, *, timeout: float | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN, retry_backoff: float | NotGiven = NOT_GIVEN,
        retry_backoff_max: float | NotGiven = NOT_GIVEN,
    ) -> Self:
        """A view of this session with the options given changed (each checked as the
        constructor checks it), for one call or one part of an app::

            offers = await s.with_options(timeout=2, max_retries=0).get_personalized(...)

        The view shares this session's pool, stats, credentials and lifecycle: closing this
        session closes it. Its own ``aclose()`` (and leaving ``async with`` on it) never
        closes the pool. Making one opens and compiles nothing (a few microseconds); a view
        of a view works too.
        """
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view._view = True
        view._configure(self._settings.with_options(
            timeout=timeout, max_retries=max_retries, retry_backoff=retry_backoff,
            retry_backoff_max=retry_backoff_max))
        return view

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        self._pool.client()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP pool (unless it was supplied by the caller). Safe to call twice.
        On a view (see :meth:`with_options`) it does nothing: the pool is its parent's."""
        if not self._view:
            await self._pool.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` has been called (on the session a view belongs to)."""
        return self._pool.closed

    def __repr__(self) -> str:
        return f"AsyncSession({self._settings.describe(view=self._view)}, closed={self.closed})"

