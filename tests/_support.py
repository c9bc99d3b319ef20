"""Constants and helpers shared by the tests."""

from __future__ import annotations

import asyncio
import json
import pickle
import re
import socket
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import msgspec
import pytest
from aioresponses import aioresponses
from hypothesis import settings
from hypothesis import strategies as st
from yarl import URL

import adgate_async
from adgate_async import AsyncSession, InvalidParameterError
from adgate_async._config import MAX_ERROR_BODY_BYTES, MAX_ERROR_MESSAGE_CHARS
from adgate_async._middleware import KeyMiddleware
from adgate_async._response import decode_body
from adgate_async.testing import Answer

PACKAGE_DIR = str(Path(adgate_async.__file__).parent)

#: A key that is easy to spot in any text, with characters that change when percent-encoded.
API_KEY = "941bd1fe-SECRET/key+=&"
AFF_ID = 60000
WALL_CODE = "nQug"
WALL_ID = 567


def make_session(**overrides: Any) -> AsyncSession:
    kwargs: dict[str, Any] = {
        "aff_id": AFF_ID,
        "api_key": API_KEY,
        "wall_code": WALL_CODE,
        "wall_id": WALL_ID,
        "retry_backoff": 0.001,
        "retry_backoff_max": 0.005,
    }
    kwargs.update(overrides)
    return AsyncSession(**kwargs)


async def wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``within`` seconds."""
    for _ in range(int(within / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"condition not met within {within} s")


def package_tasks() -> list[asyncio.Task[object]]:
    """Tasks still alive whose coroutine was written in this package."""
    current = asyncio.current_task()
    return [
        t
        for t in asyncio.all_tasks()
        if t is not current
        and not t.done()
        and getattr(t.get_coro(), "cr_code", None) is not None
        and t.get_coro().cr_code.co_filename.startswith(PACKAGE_DIR)  # type: ignore[union-attr]
    ]


def free_port() -> int:
    """A local port nobody listens on (for "connection refused", or a server started later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ------------------------------------------------------------------ the key never shows
# Every spelling of the key a leak could take, and checks that a text, an error (with its
# chain), a pickle, the log records and a session's repr and stats carry none of them.

FORMS = {API_KEY, quote(API_KEY, safe=""), quote_plus(API_KEY), quote(API_KEY)}


def assert_clean(text: str) -> None:
    for form in FORMS:
        assert form not in text, f"API key leaked: {text!r}"


def _json_unescape(text: str) -> str:
    """Undo JSON string escapes, however many levels of backslashes they sit behind."""
    text = re.sub(r"\\+u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")  # join pairs
    return re.sub(r"\\+([/\"])", r"\1", text)


def key_leaks(value: str | bytes, key: str = API_KEY) -> bool:
    """Whether ``value`` holds ``key`` in any spelling: any letter case, percent-encoded
    (either hex case, ``+`` for a space), JSON-escaped, or a mix (the spellings of
    tests/test_redact.py)."""
    texts = ([value.decode("utf-8", "replace"), value.decode("latin-1")]
             if isinstance(value, bytes) else [value])
    wanted = {key.casefold(), key.lower(), key.upper().casefold()}
    for text in texts:
        views = [text, unquote(text), unquote_plus(text), _json_unescape(text)]
        views += [unquote_plus(_json_unescape(text)), _json_unescape(unquote_plus(text)),
                  unquote(_json_unescape(text)), _json_unescape(_json_unescape(text))]
        if any(w in v.casefold() for v in views for w in wanted):
            return True
    return False


def chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__]


def assert_error_clean(exc: BaseException) -> None:
    # Our errors are raised outside the handlers of aiohttp's and msgspec's exceptions, so
    # nothing of theirs (aiohttp's messages carry the full URL) rides along as a cause.
    assert exc.__cause__ is None
    assert exc.__context__ is None
    assert_clean("".join(traceback.format_exception(exc)))
    for item in chain(exc):
        assert_clean(str(item))
        assert_clean(repr(item))
        assert_clean(repr(vars(item)) if hasattr(item, "__dict__") else "")
        assert_clean(repr(item.args))


def assert_walk_clean(exc: BaseException) -> None:
    """Like ``assert_error_clean`` but allows a (clean) suppressed context, as validation
    errors raised ``from None`` inside an ``except`` keep one."""
    assert_clean("".join(traceback.format_exception(exc)))
    for item in chain(exc):
        assert_clean(str(item))
        assert_clean(repr(item))
        assert_clean(repr(vars(item)) if hasattr(item, "__dict__") else "")
        assert_clean(repr(item.args))


def assert_pickle_clean(exc: BaseException) -> None:
    """What crosses a process boundary (a bulk result sent to a worker pool) is clean too."""
    assert_clean(pickle.dumps(exc).decode("latin-1"))


def assert_logs_clean(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert_clean(record.getMessage())
        assert_clean(repr(vars(record)))
        if record.exc_info:
            assert_clean("".join(traceback.format_exception(*record.exc_info)))
    assert_clean(caplog.text)


def assert_session_clean(s: AsyncSession) -> None:
    assert_clean(repr(s))
    assert_clean(str(s))
    assert_clean(repr(s.stats))
    assert_clean(repr(s.stats.as_dict()))
    assert_clean(json.dumps(s.stats.as_dict()))


# ------------------------------------------------------- a server that echoes the key

def echo_headers() -> dict[str, str]:
    """Response headers that echo the key in every spelling (a misbehaving proxy)."""
    return {
        "X-Echo-Raw": API_KEY,
        "X-Echo-Url": f"/v1/user-based-api/history?api_key={quote(API_KEY, safe='')}",
        "X-Echo-Form": f"api_key={quote_plus(API_KEY)}",
    }


def echoing(status: int, *, retry_after: str | None = None) -> Answer:
    """A vendor-shaped error whose message and headers both echo the key."""
    body = Answer.error(status, code=f"E{status}", message=f"bad api_key {API_KEY}").body
    headers = echo_headers()
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return Answer(status=status, body=body, headers=headers)


# ------------------------------------------------------------- bounded error texts

def huge_error_body(size: int, *, secret_at: int | None = None) -> bytes:
    filler = "x" * size
    if secret_at is not None:
        filler = filler[:secret_at] + API_KEY + filler[secret_at:]
    return msgspec.json.encode({"status": "error", "error": {"code": "BIG", "message": filler}})


def assert_bounded(exc: Exception) -> None:
    message = getattr(exc, "message", "")
    assert len(message) <= MAX_ERROR_MESSAGE_CHARS
    # str() adds the status, the code and the (redacted) URL at most.
    assert len(str(exc)) <= MAX_ERROR_MESSAGE_CHARS + 600
    assert len(repr(exc)) <= MAX_ERROR_MESSAGE_CHARS + 700
    body = getattr(exc, "body", b"")
    assert len(body) <= MAX_ERROR_BODY_BYTES
    assert len(pickle.dumps(exc)) <= MAX_ERROR_BODY_BYTES + 4 * MAX_ERROR_MESSAGE_CHARS


# -------------------------------------------------------------------- argument checks

def refused(param: str, func: Any, *args: Any, **kwargs: Any) -> InvalidParameterError:
    """Call ``func``, expect InvalidParameterError naming ``param``; return it."""
    with pytest.raises(InvalidParameterError) as info:
        func(*args, **kwargs)
    exc = info.value
    assert isinstance(exc, ValueError)
    assert exc.param == param
    assert str(exc).startswith(param + " ")
    return exc


# ------------------------------------------------------- aioresponses request checks

#: Matches any URL (aioresponses).
ANY = re.compile(r".*")


def only_url(mocked: aioresponses) -> URL:
    """The URL of the one request aioresponses saw (it must be a GET), as it would go on the
    wire: aioresponses answers before aiohttp runs the request's client middlewares, so the
    key (which the session's KeyMiddleware adds there, see adgate_async/_middleware.py) is
    put in here the same way."""
    (key,) = mocked.requests.keys()
    method, url = key
    assert method == "GET"
    (call,) = mocked.requests[key]
    for middleware in call.kwargs.get("middlewares") or ():
        if isinstance(middleware, KeyMiddleware):
            # aioresponses keeps the URL normalised (query re-encoded and sorted): the key
            # goes in by name.
            key_query = URL("/?" + middleware._keyed_query, encoded=True).query
            url = url.update_query(api_key=key_query["api_key"])
    assert isinstance(url, URL)
    return url


def calls(mocked: aioresponses) -> int:
    """How many requests aioresponses saw."""
    return sum(len(v) for v in mocked.requests.values())


# ------------------------------------------------------------- hypothesis texts, URLs

any_chars = st.characters(codec=None, exclude_categories=())  # surrogates included

#: Text made of the characters that query and path encoding get wrong most often.
tricky_texts = st.text(st.sampled_from(" +&=;%#/?,.~\\é€🙂\x00\n\ud800"), max_size=20)


def has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


#: A key with characters that change when percent-encoded.
URL_API_KEY = "941bd1fe-s3cr3t/k+y=&%"


def url_session() -> AsyncSession:
    """A session (never opened) whose URLs the round-trip properties inspect."""
    return AsyncSession(aff_id=60000, api_key=URL_API_KEY, wall_code="nQ ug&", wall_id=567)


# ------------------------------------------------------------------- shared settings

#: A generous bound: only there to turn a hang into a failure.
HANG = 20.0

#: Settings for the hypothesis property tests.
PROPERTY = settings(max_examples=200, deadline=None)

Decoder = msgspec.json.Decoder[Any]


def decode(decoder: Decoder, body: bytes) -> Any:
    """``decode_body`` as the session calls it for a 200 answer."""
    return decode_body(decoder, body, status=200, method="GET", url="u", attempts=1)
