"""Error bodies from the server never raise anything but the typed error, and every text and
body an error keeps is bounded (issue 9, items 1 and 16)."""

from __future__ import annotations

import asyncio
import contextlib
import pickle
from typing import Any, Literal

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from adgate_async import (
    AdGateError,
    AsyncSession,
    BannedError,
    DecodeError,
    NotFoundError,
    ServerError,
    TransportError,
)
from adgate_async._config import MAX_ERROR_BODY_BYTES, MAX_ERROR_MESSAGE_CHARS
from adgate_async._redact import Redactor
from adgate_async._response import decode_body
from adgate_async._status import error_for_status, parse_error_body
from adgate_async.testing import Answer, StandInServer, make_history

from ._support import API_KEY, make_session

# Values that pass str.isdigit() but are not plain decimal integers, and a value too long
# for int() to convert.
ODD_SUPPORT_IDS: list[Any] = ["²", "①", "٣", "7" * 5000, "\uff11\uff12", "-1", 1e300, -5,
                              2**70, True, "12a", "", None, [1], {"a": 1}, 1.5]


def odd_body(support_id: Any, *, code: str = "SOMETHING") -> bytes:
    doc = {"status": "error", "support_id": support_id,
           "error": {"code": code, "message": "odd", "support_id": support_id}}
    return msgspec.json.encode(doc)


# ---------------------------------------------------------------- item 1: odd support_id


@pytest.mark.parametrize("support_id", ODD_SUPPORT_IDS, ids=lambda v: repr(v)[:12])
def test_parse_error_body_odd_support_id_becomes_none(support_id: Any) -> None:
    code, _message, parsed = parse_error_body(odd_body(support_id))
    assert code == "SOMETHING"
    assert parsed is None


@pytest.mark.parametrize("support_id", [123, "123", " 77 ", 9.0])
def test_parse_error_body_plain_support_id_is_kept(support_id: Any) -> None:
    assert parse_error_body(odd_body(support_id))[2] == int(str(support_id).strip().split(".")[0])


@pytest.mark.parametrize("support_id", ["²", "①", "7" * 5000], ids=["sup2", "circled1", "long"])
async def test_get_history_odd_support_id_raises_typed_error(
    server: StandInServer, session: AsyncSession, support_id: str
) -> None:
    server.script("u1", Answer(status=403, body=odd_body(support_id, code="USER_BANNED")))
    with pytest.raises(BannedError) as info:
        await session.get_history("u1")
    assert info.value.support_id is None
    assert info.value.code == "USER_BANNED"


async def test_gather_users_odd_support_id_fails_only_that_user(
    server: StandInServer, session: AsyncSession
) -> None:
    server.script("bad", Answer(status=404, body=odd_body("²")))
    ids = ["a", "b", "bad", "c", "d"]
    results = await session.gather_users(ids, concurrency=2)
    assert [r.user_id for r in results] == ids
    assert [r.error is None for r in results] == [True, True, False, True, True]
    assert isinstance(results[2].error, NotFoundError)


async def test_iter_users_odd_support_id_does_not_stop_the_batch(
    server: StandInServer, session: AsyncSession
) -> None:
    server.script("bad", Answer(status=403, body=odd_body("7" * 5000)))
    ids = ["a", "bad", "b", "c"]
    seen = [r async for r in session.iter_users(ids, concurrency=1, ordered=True)]
    assert [r.user_id for r in seen] == ids
    assert isinstance(seen[1].error, BannedError)


async def test_503_with_odd_support_id_is_retried(
    server: StandInServer, session: AsyncSession
) -> None:
    server.script("u1", Answer(status=503, body=odd_body("①")), Answer.ok())
    history = await session.get_history("u1")
    assert history.data
    assert server.count("u1") == 2


async def test_503_with_odd_support_id_exhausts_to_server_error(server: StandInServer) -> None:
    async with make_session(**server.session_urls(), max_retries=1) as s:
        server.always("u1", Answer(status=503, body=odd_body("²")))
        with pytest.raises(ServerError) as info:
            await s.get_history("u1")
    assert info.value.attempts == 2
    assert info.value.support_id is None


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
_fields = st.sampled_from(["status", "code", "message", "support_id", "error", "errors"])
_error_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_fields, inner, max_size=5),
    max_leaves=20,
)


def _check_parse(body: bytes) -> None:
    code, message, support_id = parse_error_body(body)
    assert code is None or isinstance(code, str)
    assert message is None or isinstance(message, str)
    assert support_id is None or type(support_id) is int


_REDACTOR = Redactor(API_KEY)
_NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


def _check_mapping(body: bytes, status: int) -> None:
    error = error_for_status(status=status, reason="Reason", body=body, headers=_NO_HEADERS,
                             method="GET", url="http://x/", redactor=_REDACTOR)
    str(error)
    repr(error)
    pickle.loads(pickle.dumps(error))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_error_body_parser_never_raises_on_any_bytes(body: bytes) -> None:
    _check_parse(body)
    _check_mapping(body, 500)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_json, _error_like), st.sampled_from([400, 403, 404, 429, 503, 302, 418]))
def test_error_body_parser_never_raises_on_any_json(doc: Any, status: int) -> None:
    body = msgspec.json.encode(doc)
    _check_parse(body)
    _check_mapping(body, status)


def test_error_body_parser_survives_deep_nesting() -> None:
    _check_parse(b"[" * 100_000 + b"]" * 100_000)
    _check_parse(b'{"error":' * 50_000 + b"1" + b"}" * 50_000)


# ------------------------------------------------------- item 16: bounded error texts

_HUGE = 8 * 1024 * 1024


def _huge_error_body(size: int, *, secret_at: int | None = None) -> bytes:
    filler = "x" * size
    if secret_at is not None:
        filler = filler[:secret_at] + API_KEY + filler[secret_at:]
    return msgspec.json.encode({"status": "error", "error": {"code": "BIG", "message": filler}})


def _assert_bounded(exc: Exception) -> None:
    message = getattr(exc, "message", "")
    assert len(message) <= MAX_ERROR_MESSAGE_CHARS
    # str() adds the status, the code and the (redacted) URL at most.
    assert len(str(exc)) <= MAX_ERROR_MESSAGE_CHARS + 600
    assert len(repr(exc)) <= MAX_ERROR_MESSAGE_CHARS + 700
    body = getattr(exc, "body", b"")
    assert len(body) <= MAX_ERROR_BODY_BYTES
    assert len(pickle.dumps(exc)) <= MAX_ERROR_BODY_BYTES + 4 * MAX_ERROR_MESSAGE_CHARS


async def test_huge_403_message_is_capped(server: StandInServer, session: AsyncSession) -> None:
    server.script("u1", Answer(status=403, body=_huge_error_body(_HUGE)))
    with pytest.raises(BannedError) as info:
        await session.get_history("u1")
    _assert_bounded(info.value)
    assert info.value.message.startswith("xxxx")
    assert f"{_HUGE:,} characters in all" in info.value.message
    assert info.value.code == "BIG"
    assert info.value.body.startswith(b'{"status":"error"')


@pytest.mark.parametrize("offset", range(-30, 5, 3))
async def test_key_at_the_cut_is_not_half_kept(
    server: StandInServer, session: AsyncSession, offset: int
) -> None:
    at = MAX_ERROR_MESSAGE_CHARS + offset - 40
    long_message = _huge_error_body(MAX_ERROR_BODY_BYTES * 2, secret_at=at)
    long_body = b"a" * (MAX_ERROR_BODY_BYTES + offset - 8) + API_KEY.encode() + b"a" * 100
    server.script("u1", Answer(status=500, body=long_message), Answer(status=500, body=long_body))
    async with make_session(**server.session_urls(), max_retries=0) as s:
        for _ in range(2):
            with pytest.raises(ServerError) as info:
                await s.get_history("u1")
            _assert_bounded(info.value)
            assert API_KEY[:5] not in info.value.message
            assert API_KEY[:5].encode() not in info.value.body


async def test_gather_users_keeps_bounded_bodies(
    server: StandInServer, session: AsyncSession
) -> None:
    ids = [f"u{i}" for i in range(6)]
    for user_id in ids[1:]:
        server.script(user_id, Answer(status=404, body=_huge_error_body(1024 * 1024)))
    results = await session.gather_users(ids, concurrency=3)
    assert results[0].error is None
    for result in results[1:]:
        assert isinstance(result.error, NotFoundError)
        _assert_bounded(result.error)


async def test_decode_error_body_and_message_are_capped(
    server: StandInServer, session: AsyncSession
) -> None:
    bad = b'{"data": [' + b'"' + b"y" * (1024 * 1024) + b'"' + b", 5]}"
    server.script("u1", Answer.ok(body=bad), Answer.ok(body=bad))
    with pytest.raises(DecodeError) as info:
        await session.get_history("u1")
    _assert_bounded(info.value)
    raw = await session.with_raw_response.get_history("u1")
    with pytest.raises(DecodeError) as info:
        raw.parse()
    _assert_bounded(info.value)


class _Picky(msgspec.Struct):
    kind: Literal["a", "b"]


def test_decode_error_message_quoting_the_body_is_capped_and_scrubbed() -> None:
    # msgspec quotes an invalid enum value back in its message: 5,000 characters and the key.
    body = msgspec.json.encode({"kind": "k" * 5000 + API_KEY})
    with pytest.raises(DecodeError) as info:
        decode_body(msgspec.json.Decoder(_Picky), body, status=200, method="GET", url="u",
                    attempts=1, redactor=_REDACTOR)
    _assert_bounded(info.value)
    assert "Invalid enum value" in info.value.message
    assert API_KEY[:5] not in str(info.value)


async def test_json_followed_by_junk_says_exactly_that(
    server: StandInServer, session: AsyncSession
) -> None:
    good = msgspec.json.encode({"data": []})
    server.script("u1", Answer.ok(body=good + b"  xyz-junk"))
    with pytest.raises(DecodeError) as info:
        await session.get_history("u1")
    message = info.value.message
    assert f"complete JSON document ends at byte {len(good)}" in message
    assert "followed by 10 more bytes" in message
    _assert_bounded(info.value)


async def test_json_followed_by_whitespace_is_fine(
    server: StandInServer, session: AsyncSession
) -> None:
    server.script("u1", Answer.ok(body=msgspec.json.encode({"data": []}) + b" \r\n\t "))
    history = await session.get_history("u1")
    assert history.data == []


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
    _assert_bounded(exc)
    assert len(exc.message) < 300
    assert "invalid HTTP from the server" in exc.message
    assert "stray bytes" in exc.message
    assert "offer_id" not in exc.message
    assert API_KEY not in str(exc)


def _history_body_bytes() -> bytes:
    return msgspec.json.encode(make_history("u1", 20))


@pytest.mark.parametrize("value", ["Mon, 01 Jan 99999999999999999999 00:00:00 GMT",
                                   "Mon, 01 Jan 2026 99999999999999999:00:00 GMT",
                                   "Mon, 01 Jan 2026 00:00:00 +99999999999999999999"],
                         ids=["year", "hour", "zone"])
async def test_retry_after_date_out_of_range_is_ignored(
    server: StandInServer, session: AsyncSession, value: str
) -> None:
    # A Retry-After date too far out for the platform's clock is unreadable, like any other
    # unreadable value: the normal backoff applies and the 503 is retried.
    server.script("u1", Answer(status=503, body=odd_body(1), headers={"Retry-After": value}),
                  Answer.ok())
    history = await session.get_history("u1")
    assert history.data
    assert server.count("u1") == 2


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
