"""A session's settings, checked once and held in one frozen value.

:func:`resolve` builds it from the constructor's arguments: each credential or base URL left
out (``NOT_GIVEN``) is read from its environment variable (:mod:`._env`), else takes its
default; an argument given (even ``wall_id=None``) is never replaced.
:meth:`Settings.with_options` derives the settings of a view (``AsyncSession.with_options``)
with :func:`dataclasses.replace`: nothing is compiled or
opened again, so a view costs a few microseconds.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

import aiohttp

from . import _config, _env, _params
from ._endpoints.history import HistoryURLs
from ._errors import InvalidParameterError
from ._redact import Redactor
from ._retry import RetryPolicy
from ._transport import Request, timeout_seconds
from ._version import __version__

__all__ = ["NOT_GIVEN", "NoHistory", "NotGiven", "Settings", "history_urls", "resolve"]

#: The headers every request carries unless ``headers=`` replaces them.
DEFAULT_HEADERS: Final = {"User-Agent": f"adgate-async/{__version__}",
                          "Accept": "application/json"}
_ADGATE: Final = ("aff_id", "api_key", "wall_code")


class NotGiven:
    """The default of an option that keeps the current setting (None has a meaning of its
    own there: ``timeout=None`` is no time limit)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Settings:
    """Every setting of a session, checked. The AdGate credentials may be partly or wholly
    missing (a RevU-only session): ``missing`` names what Get History lacks."""

    aff_id: int | None
    api_key: str | None = dataclasses.field(repr=False)
    wall_code: str | None
    wall_id: int | None
    missing: tuple[str, ...]
    adgate_base_url: str
    revu_base_url: str
    redactor: Redactor = dataclasses.field(repr=False)
    max_retries: int
    retry_backoff: float
    retry_backoff_max: float
    timeout: aiohttp.ClientTimeout
    timeout_seconds: float | None
    max_connections: int
    max_response_bytes: int
    #: Ours, with those given as ``headers=`` in their place (names compared ignoring case).
    headers: dict[str, str]
    #: The lowercased names given as ``headers=`` (sent even over a caller session's own).
    given_headers: frozenset[str]
    trust_env: bool
    proxy: str | None = dataclasses.field(repr=False)
    #: Decode answers strictly (a quoted number is an error) instead of leniently.
    strict: bool

    def check_history(self) -> None:
        """Refuse a Get History call (before any request) when credentials are missing."""
        if self.missing:
            names = ", ".join(self.missing)
            variables = ", ".join(_env.VARIABLES[name] for name in self.missing)
            raise InvalidParameterError(
                names, f"{'is' if len(self.missing) == 1 else 'are'} needed by Get History "
                f"but this session has none: pass {names} to AsyncSession or set {variables}",
                show=False,
            )

    def describe(self, *, view: bool) -> str:
        """The settings a repr shows (never the key or the proxy: either may be secret)."""
        key = None if self.api_key is None else _config.REDACTED
        text = (f"aff_id={self.aff_id}, wall_code={self.wall_code!r}, wall_id={self.wall_id}, "
                f"api_key={key!r}")
        if view:
            text += (f", view: timeout={self.timeout_seconds}, max_retries={self.max_retries}, "
                     f"retry_backoff={self.retry_backoff}, "
                     f"retry_backoff_max={self.retry_backoff_max}")
        return text

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_retries=self.max_retries, backoff=self.retry_backoff,
                           backoff_max=self.retry_backoff_max)

    def with_options(
        self, *, timeout: float | NotGiven | None, max_retries: int | NotGiven,
        retry_backoff: float | NotGiven, retry_backoff_max: float | NotGiven,
    ) -> Settings:
        """These settings with the options given changed, each checked as the
        constructor checks it."""
        changes: dict[str, Any] = {}
        if not isinstance(timeout, NotGiven):
            changes["timeout"], changes["timeout_seconds"] = _timeout(timeout)
        if not isinstance(max_retries, NotGiven):
            changes["max_retries"] = _params.check_max_retries(max_retries)
        if not isinstance(retry_backoff, NotGiven):
            changes["retry_backoff"] = _params.check_non_negative("retry_backoff",
                                                                  retry_backoff)
        if not isinstance(retry_backoff_max, NotGiven):
            changes["retry_backoff_max"] = _params.check_non_negative("retry_backoff_max",
                                                                      retry_backoff_max)
        return dataclasses.replace(self, **changes) if changes else self


class NoHistory:
    """Stands in for the history URLs of a session without all AdGate credentials: every
    call is refused (a session checks :meth:`Settings.check_history` first anyway)."""

    __slots__ = ("_settings",)

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def request(self, user_id: object, options: str) -> Request:
        self._settings.check_history()
        raise AssertionError("unreachable: the credentials are missing")


def history_urls(settings: Settings,
                 client: aiohttp.ClientSession | None = None) -> HistoryURLs | NoHistory:
    """The fixed parts of a session's history URLs, built once (with and without the key);
    without all AdGate credentials, a stand-in that refuses every call. ``client``: the
    caller's aiohttp session, if any (its own middlewares run before the key's)."""
    if settings.aff_id is None or settings.api_key is None or settings.wall_code is None:
        return NoHistory(settings)
    return HistoryURLs(settings.adgate_base_url, aff_id=settings.aff_id,
                       api_key=settings.api_key, wall_code=settings.wall_code, client=client)


def _timeout(value: object) -> tuple[aiohttp.ClientTimeout, float | None]:
    if value is not None:
        value = _params.check_non_negative("timeout", value, allow_zero=False)
    return aiohttp.ClientTimeout(total=value), value


def _id(param: str, value: object) -> int | None:
    if isinstance(value, NotGiven):
        return _env.positive_int(param)
    return None if value is None and param == "wall_id" else _params.check_id_int(param, value)


def _text(param: str, value: object, *, secret: bool = False) -> str | None:
    if isinstance(value, NotGiven):
        return _env.text(param)
    return _params.check_nonempty_str(param, value, secret=secret)


def _base_url(param: str, value: object, default: str, redactor: Redactor) -> str:
    if isinstance(value, NotGiven):
        return _env.base_url(param) or default
    return _params.check_base_url(param, value, redactor.text)


def _headers(value: object) -> tuple[dict[str, str], frozenset[str]]:
    given = _params.check_headers(value)
    names = frozenset(name.lower() for name in given)
    ours = {name: text for name, text in DEFAULT_HEADERS.items() if name.lower() not in names}
    return ours | given, names


def resolve(
    *, aff_id: object, api_key: object, wall_code: object, wall_id: object,
    adgate_base_url: object, revu_base_url: object, max_retries: object,
    retry_backoff: object, retry_backoff_max: object, timeout: object,
    max_connections: object, session: object, max_response_bytes: object,
    headers: object, trust_env: object, proxy: object, strict: object,
) -> Settings:
    """The constructor's arguments checked (in the order of its signature), the ones left
    out read from the environment."""
    checked_aff_id = _id("aff_id", aff_id)
    key = _text("api_key", api_key, secret=True)
    checked_wall_code = _text("wall_code", wall_code)
    checked_wall_id = _id("wall_id", wall_id)
    credentials = {"aff_id": checked_aff_id, "api_key": key, "wall_code": checked_wall_code}
    missing = tuple(name for name in _ADGATE if credentials[name] is None)
    if len(missing) == len(_ADGATE) and checked_wall_id is None:
        raise InvalidParameterError(
            "aff_id, api_key, wall_code, wall_id", "are all missing: give AdGate credentials "
            "(aff_id, api_key, wall_code; or ADGATE_AFF_ID, ADGATE_API_KEY, ADGATE_WALL_CODE) "
            "for Get History, or a RevU wall_id (or REVU_WALL_ID) for Get Personalized",
            show=False,
        )
    if session is not None and not isinstance(session, aiohttp.ClientSession):
        raise InvalidParameterError("session", "must be an aiohttp.ClientSession or None",
                                    session)
    redactor = Redactor(key)
    adgate = _base_url("adgate_base_url", adgate_base_url, _config.ADGATE_BASE_URL, redactor)
    revu = _base_url("revu_base_url", revu_base_url, _config.REVU_BASE_URL, redactor)
    retries = _params.check_max_retries(max_retries)
    backoff = _params.check_non_negative("retry_backoff", retry_backoff)
    backoff_max = _params.check_non_negative("retry_backoff_max", retry_backoff_max)
    if session is not None and timeout is _config.TIMEOUT:
        # A caller's session keeps its own timeout unless ``timeout=`` is passed.
        client_timeout, seconds = session.timeout, timeout_seconds(session.timeout)
    else:
        client_timeout, seconds = _timeout(timeout)
    connections = _params.check_positive_int("max_connections", max_connections,
                                             _config.MAX_CONNECTIONS_MAX)
    max_bytes = _params.check_positive_int("max_response_bytes", max_response_bytes)
    merged, given = _headers(headers)
    if not isinstance(trust_env, bool):
        raise InvalidParameterError("trust_env", "must be a bool", trust_env)
    checked_proxy = _params.check_proxy(proxy)
    if not isinstance(strict, bool):
        raise InvalidParameterError("strict", "must be a bool", strict)
    if session is not None and (trust_env or checked_proxy is not None):
        raise InvalidParameterError(
            "trust_env" if trust_env else "proxy", "cannot apply to a caller's aiohttp "
            "session (session=): give trust_env=/proxy= to that aiohttp.ClientSession "
            "instead, or leave session= out", show=False,
        )
    return Settings(
        aff_id=checked_aff_id, api_key=key, wall_code=checked_wall_code,
        wall_id=checked_wall_id, missing=missing, adgate_base_url=adgate, revu_base_url=revu,
        redactor=redactor, max_retries=retries, retry_backoff=backoff,
        retry_backoff_max=backoff_max, timeout=client_timeout, timeout_seconds=seconds,
        max_connections=connections, max_response_bytes=max_bytes, headers=merged,
        given_headers=given, trust_env=trust_env, proxy=checked_proxy, strict=strict,
    )
