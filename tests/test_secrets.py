"""The API key never shows: not in errors (chained causes included), reprs, logs or RevU."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest

from adgate_async import AdGateError, AsyncSession
from adgate_async.testing import Answer, StandInServer

from ._support import API_KEY, free_port, make_session

FORMS = {API_KEY, quote(API_KEY, safe=""), quote_plus(API_KEY), quote(API_KEY)}


def assert_clean(text: str) -> None:
    for form in FORMS:
        assert form not in text, f"API key leaked: {text!r}"


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


SCENARIOS = {
    "500": [Answer.error(500)],
    "403 ban": [Answer.ban("USER_BANNED")],
    "400": [Answer.error(400, message="bad request")],
    "bad json": [Answer.ok(body=b"{not json")],
    "wrong shape": [Answer.ok(body=b'{"data": 5}')],
    "timeout": [Answer.hang()],
    "reset": [Answer.drop()],
    "truncated": [Answer.truncated()],
    "key echoed in error": [Answer.error(400, message=f"invalid api_key {API_KEY}")],
    "key echoed in 200": [Answer.ok(body=f'{{"data": "{API_KEY}"}}'.encode())],
    "429 retry-after": [Answer.error(429, retry_after=500)],
    "redirect": [Answer(status=302, body=b"",
                        headers={"Location": f"https://evil.test/?api_key={API_KEY}"})],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_no_error_path_leaks_the_key(
    server: StandInServer, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, aiohttp's included
    for answer in SCENARIOS[name]:
        server.always("u", answer)
    async with make_session(timeout=0.3, max_retries=1, **server.session_urls()) as s:
        with pytest.raises(AdGateError) as info:
            await s.get_history("u")
        assert_clean(repr(s))
        assert_clean(repr(s.stats))
    assert_error_clean(info.value)
    assert caplog.records, "expected DEBUG records from the client"
    for record in caplog.records:
        assert_clean(record.getMessage())
        if record.exc_info:
            assert_clean("".join(traceback.format_exception(*record.exc_info)))
    assert_clean(caplog.text)


async def test_connection_refused_does_not_leak_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()  # a port that nothing listens on
    base = f"http://127.0.0.1:{port}"
    async with make_session(adgate_base_url=base, revu_base_url=base) as s:
        with pytest.raises(AdGateError) as info:
            await s.get_history("u")
    assert_error_clean(info.value)
    assert_clean(caplog.text)


async def test_error_url_is_redacted_but_useful(server: StandInServer) -> None:
    server.always("u", Answer.error(404))
    async with make_session(**server.session_urls()) as s:
        with pytest.raises(AdGateError) as info:
            await s.get_history("u")
    url = info.value.url  # type: ignore[attr-defined]
    assert "api_key=***" in url
    assert "user_id=u" in url
    assert url.startswith(server.url)


async def test_echoed_key_is_scrubbed_from_message_and_body(server: StandInServer) -> None:
    server.always("u", Answer.error(400, message=f"invalid api_key {API_KEY}"))
    async with make_session(**server.session_urls()) as s:
        with pytest.raises(AdGateError) as info:
            await s.get_history("u")
    err = info.value
    assert err.message == "invalid api_key ***"
    assert_clean(err.body.decode())  # type: ignore[attr-defined]


async def test_key_goes_to_adgate_only(server: StandInServer, session: AsyncSession) -> None:
    await session.get_history("u")
    await session.get_personalized("u", numoffers=2)
    history, personalized = server.requests
    assert history.query["api_key"] == API_KEY
    assert "api_key" not in personalized.query
    assert_clean(repr(personalized))


def test_session_repr_hides_the_key() -> None:
    s = make_session()
    assert "***" in repr(s)
    assert_clean(repr(s))
    assert_clean(str(s))


async def test_raw_response_headers_are_scrubbed(server: StandInServer) -> None:
    server.always("u", Answer(status=200, body=b'{"data": []}',
                              headers={"X-Echo": f"api_key={API_KEY}"}))
    async with make_session(**server.session_urls()) as s:
        raw = await s.with_raw_response.get_history("u")
    assert raw.headers["X-Echo"] == "api_key=***"
    assert_clean(repr(dict(raw.headers)))
