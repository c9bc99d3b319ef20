"""One attempt against real and raw servers: hangs, stalls, resets, broken and
oversized bodies, bytes beyond Content-Length, redirects; every failure is a typed
error with no trace of the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import aiohttp
import msgspec
import pytest

from adgate_async import (
    AdGateError,
    APIStatusError,
    APITimeoutError,
    DecodeError,
    ResponseTooLargeError,
    ServerError,
    TransportError,
)
from adgate_async.testing import Answer, StandInServer, make_history

from ._support import (
    AFF_ID,
    API_KEY,
    WALL_CODE,
    assert_bounded,
    assert_clean,
    assert_error_clean,
    assert_logs_clean,
    assert_pickle_clean,
    assert_session_clean,
    assert_walk_clean,
    echoing,
    free_port,
    make_session,
    wait_until,
)


async def test_a_server_that_never_answers(adgate_server: StandInServer) -> None:
    adgate_server.always("u", Answer.hang())
    async with make_session(timeout=0.2, max_retries=2, **adgate_server.session_urls()) as s:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            await s.get_history("u")
    assert info.value.attempts == 3
    assert adgate_server.count("u") == 3
    assert time.monotonic() - started < 3


async def test_headers_then_a_stalled_body(adgate_server: StandInServer) -> None:
    adgate_server.script("u", Answer.stalled())
    async with make_session(timeout=0.3, **adgate_server.session_urls()) as s:
        assert (await s.get_history("u")).data  # timed out once, then retried
        assert s.stats.retries_by_reason == {"timeout": 1}
    adgate_server.always("v", Answer.stalled())
    async with make_session(timeout=0.2, max_retries=1, **adgate_server.session_urls()) as s:
        with pytest.raises(APITimeoutError):
            await s.get_history("v")


async def test_a_slow_but_good_body_is_read_whole(adgate_server: StandInServer) -> None:
    adgate_server.script("u", Answer.slow(0.05))
    async with make_session(**adgate_server.session_urls()) as s:
        history = await s.get_history("u")
    assert [o.offer_id for o in history.data] == [o["offer_id"] for o in make_history("u")["data"]]
    assert s.stats.retries == 0


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Answer.ok(body=b"\xff\xfe<html>not utf-8</html>"), DecodeError),
        (Answer.ok(body=b"<html><body>Service Unavailable</body></html>"), DecodeError),
        (Answer(status=502, body=b"<html>502 Bad Gateway</html>",
                headers={"Content-Type": "text/html"}), ServerError),
        (Answer(status=500, body=b"\xff\xfe\x00garbage"), ServerError),
        (Answer.ok(body=b""), DecodeError),
    ],
)
async def test_broken_bodies_give_typed_errors(
    adgate_server: StandInServer, answer: Answer, error: type[Exception]
) -> None:
    adgate_server.always("u", answer)
    async with make_session(max_retries=1, **adgate_server.session_urls()) as s:
        with pytest.raises(error) as info:
            await s.get_history("u")
    assert "Traceback" not in str(info.value)


async def test_an_oversized_body_is_refused_unread(adgate_server: StandInServer) -> None:
    async with make_session(max_response_bytes=1000, max_retries=3,
                            **adgate_server.session_urls()) as s:
        with pytest.raises(ResponseTooLargeError) as info:
            await s.get_history("u")  # ~6 KB generated history
        assert info.value.limit == 1000
        assert info.value.size is not None
        assert info.value.size > 1000
        assert "max_response_bytes" in str(info.value)
        assert isinstance(info.value, TransportError)
        assert adgate_server.count("u") == 1  # never retried
        # The session is still fine for answers under the limit.
        adgate_server.always("small", Answer.ok(body=b'{"data": []}'))
        assert (await s.get_history("small")).data == ()


async def test_an_oversized_body_of_unknown_length_stops_early(
    adgate_server: StandInServer
) -> None:
    big = b'{"data": [' + b",".join([b'{"x": "' + b"y" * 1000 + b'"}'] * 200) + b"]}"
    adgate_server.always("u", Answer.slow(0.01, body=big, chunked=True))  # no Content-Length
    adgate_server.always("ok", Answer.slow(0.01, chunked=True))
    async with make_session(max_response_bytes=50_000, **adgate_server.session_urls()) as s:
        with pytest.raises(ResponseTooLargeError) as info:
            await s.get_history("u")
        assert info.value.size is None
        assert adgate_server.count("u") == 1
        assert (await s.get_history("ok")).data  # a chunked body under the limit is fine


def test_max_response_bytes_is_validated() -> None:
    with pytest.raises(ValueError, match="max_response_bytes"):
        make_session(max_response_bytes=0)


async def test_default_limit_is_generous(adgate_server: StandInServer) -> None:
    big = StandInServer(offers_per_user=400)
    async with big, make_session(**big.session_urls()) as s:
        history = await s.get_history("many")
    assert len(history.data) == 400
    await asyncio.sleep(0)


async def test_a_compressed_body_is_capped_after_decompression(
    adgate_server: StandInServer
) -> None:
    big = b'{"data": [' + b",".join([b'{"x": "' + b"y" * 1000 + b'"}'] * 2000) + b"]}"
    packed = gzip.compress(big)
    assert len(packed) < 50_000 < len(big)
    adgate_server.always("u", Answer(status=200, body=packed, headers={"Content-Encoding": "gzip"}))
    async with make_session(max_response_bytes=100_000, **adgate_server.session_urls()) as s:
        with pytest.raises(ResponseTooLargeError):
            await s.with_raw_response.get_history("u")
        assert adgate_server.count("u") == 1
        small = gzip.compress(b'{"data": []}')
        adgate_server.always("v", Answer(status=200, body=small,
            headers={"Content-Encoding": "gzip"}))
        assert (await s.get_history("v")).data == ()


def _history_body_bytes() -> bytes:
    return msgspec.json.encode(make_history("u1", 20))


async def _raw_http_server(reply: bytes) -> tuple[asyncio.Server, str]:
    """A socket server that sends ``reply`` verbatim to every request."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(reply)
            await writer.drain()
            await reader.read()  # until the client hangs up
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    return srv, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("close", [False, True], ids=["keep-alive", "connection-close"])
async def test_bytes_beyond_content_length_give_a_short_exact_transport_error(
    close: bool,
) -> None:
    # The reviewer's case: a good 200 whose Content-Length is shorter than what is sent.
    # aiohttp's parser rejects the extra bytes and drops the answer with them; the error
    # must say so briefly, without the body (or the key) in it.
    body = _history_body_bytes()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    if close:
        head += b"Connection: close\r\n"
    reply = head + b"Content-Length: %d\r\n\r\n" % len(body) + body + b"stray bytes " + (
        API_KEY.encode() * 3)
    srv, url = await _raw_http_server(reply)
    try:
        async with make_session(adgate_base_url=url, revu_base_url=url, max_retries=0) as s:
            with pytest.raises(TransportError) as info:
                await s.get_history("u1")
    finally:
        srv.close()
        await srv.wait_closed()
    exc = info.value
    assert_bounded(exc)
    assert len(exc.message) < 300
    assert "invalid HTTP from the server" in exc.message
    assert "stray bytes" in exc.message
    assert "offer_id" not in exc.message
    assert API_KEY not in str(exc)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("form", ["raw", "quote", "quote_plus"])
async def test_a_redirect_to_another_host_is_not_followed(
    status: int, form: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    encoded = {"raw": API_KEY, "quote": quote(API_KEY, safe=""),
               "quote_plus": quote_plus(API_KEY)}[form]
    async with StandInServer() as adgate, StandInServer() as revu:
        # A path the RevU stand-in records, so a followed redirect would show up there.
        location = (f"{revu.url}/v1/user-based-api/history?aff_id={AFF_ID}"
                    f"&wall_code={WALL_CODE}&user_id=steal&api_key={encoded}")
        adgate.always("u", Answer(status=status, body=b"", headers={"Location": location}))
        async with make_session(adgate_base_url=adgate.url, revu_base_url=revu.url) as s:
            with pytest.raises(APIStatusError) as info:
                await s.get_history("u")
        assert revu.count() == 0
        assert adgate.count("u") == 1  # a 3xx is not retried either
        err = info.value
        assert type(err) is APIStatusError
        assert err.status == status
        assert err.url.startswith(adgate.url)
        assert "api_key=***" in err.url
        assert err.headers["Location"].endswith("api_key=***")
        assert "unexpected redirect to" in str(err)
        assert revu.url.split("//")[1] in str(err)  # it names where it was sent
        assert_clean(str(err))
        assert_clean(repr(err.headers))
        assert_error_clean(err)
        assert_logs_clean(caplog)

        # Control: a client that follows redirects does reach the RevU stand-in, key and all.
        async with aiohttp.ClientSession() as client, client.get(
            adgate.url + "/v1/user-based-api/history",
            params={"aff_id": AFF_ID, "api_key": "k", "wall_code": WALL_CODE,
                    "user_id": "u"},
        ) as resp:
            await resp.read()
        assert revu.count("steal") == 1


@dataclass(frozen=True)
class Fault:
    scripted: tuple[Answer, ...] = ()
    always: Answer | None = None
    error: str = ""
    attempts: int = 1
    session: Mapping[str, Any] = field(default_factory=dict)


FAULTS: dict[str, Fault] = {
    "400 echoing the key": Fault(always=echoing(400), error="BadRequestError"),
    "403 user ban": Fault(always=Answer.ban("USER_BANNED"), error="UserBannedError"),
    "403 ip ban": Fault(always=Answer.ban("IP_BANNED"), error="IPBannedError"),
    "404 echoing the key": Fault(always=echoing(404), error="NotFoundError"),
    "429 beyond the Retry-After cap": Fault(
        always=echoing(429, retry_after="500"), error="RateLimitError"
    ),
    "500 until retries run out": Fault(always=echoing(500), error="ServerError", attempts=3),
    "reset until retries run out": Fault(always=Answer.drop(), error="TransportError",
                                         attempts=3),
    "truncated until retries run out": Fault(
        always=Answer.truncated(), error="TransportError", attempts=3
    ),
    "mixed faults, then retries run out": Fault(
        scripted=(Answer.truncated(), echoing(500)), always=echoing(503),
        error="ServerError", attempts=3,
    ),
    "bad json holding the key": Fault(
        always=Answer.ok(body=b'{"data": [{"offer_id": "' + API_KEY.encode()),
        error="DecodeError",
    ),
    "wrong shape holding the key": Fault(
        always=Answer.ok(body=f'{{"data": "{API_KEY}", "{quote(API_KEY)}": 1}}'.encode()),
        error="DecodeError",
    ),
    "timeout until retries run out": Fault(
        always=Answer.hang(), error="APITimeoutError", attempts=2,
        session={"timeout": 0.2, "max_retries": 1},
    ),
}


@pytest.mark.parametrize("name", list(FAULTS))
async def test_every_request_error_is_clean(
    adgate_server: StandInServer, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, aiohttp's included
    fault = FAULTS[name]
    adgate_server.script("u", *fault.scripted)
    if fault.always is not None:
        adgate_server.always("u", fault.always)
    kwargs: dict[str, Any] = {"max_retries": 2, **fault.session}
    async with make_session(**kwargs, **adgate_server.session_urls()) as s:
        with pytest.raises(AdGateError) as info:
            await s.get_history("u")
        if fault.error == "DecodeError":  # the raw call does not decode: parse() does
            raw = await s.with_raw_response.get_history("u")
            assert_clean(repr(raw))
            assert_clean(raw.url)
            with pytest.raises(AdGateError) as raw_info:
                raw.parse()
        else:
            with pytest.raises(AdGateError) as raw_info:
                await s.with_raw_response.get_history("u")
        assert_session_clean(s)
        assert s.stats.failures == (1 if fault.error == "DecodeError" else 2)
    err = info.value
    # The fault really happened, as many times as the policy allows.
    assert type(err).__name__ == fault.error
    assert type(raw_info.value) is type(err)
    assert err.attempts == fault.attempts  # type: ignore[attr-defined]
    # At least one request per attempt (aiohttp itself resends a GET once after a reset).
    assert adgate_server.count("u") >= 2 * fault.attempts
    assert "api_key=***" in err.url  # type: ignore[attr-defined]
    for exc in (err, raw_info.value):
        assert_error_clean(exc)
        assert_pickle_clean(exc)
    if isinstance(err, APIStatusError):
        assert_clean(repr(err.headers))
        assert_clean(err.body.decode(errors="replace"))
    if hasattr(err, "body"):
        assert_clean(err.body.decode("latin-1"))
    assert any("api_key=***" in r.getMessage() for r in caplog.records)
    assert_logs_clean(caplog)


async def test_connection_refused_is_clean_for_both_endpoints(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    base = f"http://127.0.0.1:{free_port()}"
    async with make_session(adgate_base_url=base, revu_base_url=base, max_retries=1) as s:
        with pytest.raises(AdGateError) as history:
            await s.get_history("u")
        with pytest.raises(AdGateError) as personalized:
            await s.get_personalized("u", numoffers=3)
        assert_session_clean(s)
        assert s.stats.retries_by_reason == {"transport": 2}
    for exc in (history.value, personalized.value):
        assert type(exc).__name__ == "TransportError"
        assert exc.attempts == 2  # type: ignore[attr-defined]
        assert_error_clean(exc)
        assert_pickle_clean(exc)
    assert_logs_clean(caplog)


async def test_cancelling_a_hung_request_is_clean(
    adgate_server: StandInServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    adgate_server.script("u", Answer.hang())
    async with make_session(timeout=10, **adgate_server.session_urls()) as s:
        task = asyncio.create_task(s.get_history("u"))
        await wait_until(lambda: adgate_server.in_flight == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
        text = "".join(traceback.format_exception(info.value))
        assert "_transport.py" in text  # the inner traceback, down into the request
        assert_clean(text)
        assert_walk_clean(info.value)
        assert_clean(repr(task))
        assert_session_clean(s)
        assert s.stats.successes == 0
        # The cancelled attempt left nothing behind: the next call on the pool works.
        history = await s.get_history("u")
        assert len(history.data) == 3
    assert adgate_server.count("u") == 2
    assert_logs_clean(caplog)


async def test_a_good_answer_followed_by_stray_bytes_says_what_was_wrong() -> None:
    """Review finding 13: a 200 carrying a complete, valid history of exactly its
    Content-Length, followed by stray bytes on the connection, was reported as ``invalid
    HTTP from the server: Bad status line``: nothing said the server sent more than its
    Content-Length."""

    body = msgspec.json.encode(make_history("u1", 2))
    payload = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body + b"garbage"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(payload)
            await writer.drain()
            await reader.read()  # until the client closes
        writer.close()

    raw = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{raw.sockets[0].getsockname()[1]}"
    outcome: object
    try:
        async with make_session(adgate_base_url=url, max_retries=0) as s:
            try:
                outcome = await s.get_history("u1")
            except AdGateError as exc:
                outcome = exc
    finally:
        raw.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(raw.wait_closed(), timeout=5)
    if isinstance(outcome, AdGateError):
        assert "content-length" in str(outcome).casefold(), str(outcome)
    else:
        assert len(outcome.data) == 2  # type: ignore[attr-defined]
