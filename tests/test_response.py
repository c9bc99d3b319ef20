"""Decoding an answer: a bad body is a ``DecodeError`` with the msgspec path, never
retried, with a bounded message; trailing bytes; ``RawResponse``. (The hypothesis tests of
the decoders are in test_models_decoding.py.)"""

from __future__ import annotations

from typing import Literal

import msgspec
import pytest
from aioresponses import aioresponses

from adgate_async import (
    AsyncSession,
    DecodeError,
    History,
    Personalized,
    RawResponse,
    UserBannedError,
)
from adgate_async._redact import Redactor
from adgate_async._response import decode_body
from adgate_async.testing import Answer, StandInServer, make_history

from ._support import (
    ANY,
    API_KEY,
    assert_bounded,
    calls,
    make_session,
)


async def test_invalid_json_on_200_is_a_decode_error_not_retried(
    mock_http: aioresponses,
) -> None:
    mock_http.get(ANY, status=200, body="<html>maintenance</html>", repeat=True)
    async with make_session(max_retries=3) as s:
        with pytest.raises(DecodeError) as info:
            await s.get_history("u")
    assert info.value.status == 200
    assert info.value.body == b"<html>maintenance</html>"
    assert "malformed" in str(info.value)
    assert calls(mock_http) == 1
    assert s.stats.decode_errors == 1


async def test_mismatched_body_keeps_msgspec_path(mock_http: aioresponses) -> None:
    mock_http.get(ANY, status=200, payload={"data": [{"offer_id": "not-an-int"}]})
    async with make_session() as s:
        with pytest.raises(DecodeError) as info:
            await s.get_history("u")
    assert info.value.path == "$.data[0].offer_id"
    assert "$.data[0].offer_id" in str(info.value)


async def test_missing_envelope_field_is_a_decode_error(mock_http: aioresponses) -> None:
    mock_http.get(ANY, status=200, payload={"status": "success", "offers": []})
    async with make_session() as s:
        with pytest.raises(DecodeError, match="publisher_id"):
            await s.get_personalized("u", numoffers=1)


async def test_decode_error_body_and_message_are_capped(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    bad = b'{"data": [' + b'"' + b"y" * (1024 * 1024) + b'"' + b", 5]}"
    adgate_server.script("u1", Answer.ok(body=bad), Answer.ok(body=bad))
    with pytest.raises(DecodeError) as info:
        await adgate_session.get_history("u1")
    assert_bounded(info.value)
    raw = await adgate_session.with_raw_response.get_history("u1")
    with pytest.raises(DecodeError) as info:
        raw.parse()
    assert_bounded(info.value)


class _Picky(msgspec.Struct):
    kind: Literal["a", "b"]


_REDACTOR = Redactor(API_KEY)


def test_decode_error_message_quoting_the_body_is_capped_and_scrubbed() -> None:
    # msgspec quotes an invalid enum value back in its message: 5,000 characters and the key.
    body = msgspec.json.encode({"kind": "k" * 5000 + API_KEY})
    with pytest.raises(DecodeError) as info:
        decode_body(msgspec.json.Decoder(_Picky), body, status=200, method="GET", url="u",
                    attempts=1, redactor=_REDACTOR)
    assert_bounded(info.value)
    assert "Invalid enum value" in info.value.message
    assert API_KEY[:5] not in str(info.value)


async def test_json_followed_by_junk_says_exactly_that(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    good = msgspec.json.encode({"data": []})
    adgate_server.script("u1", Answer.ok(body=good + b"  xyz-junk"))
    with pytest.raises(DecodeError) as info:
        await adgate_session.get_history("u1")
    message = info.value.message
    assert f"complete JSON document ends at byte {len(good)}" in message
    assert "followed by 10 more bytes" in message
    assert_bounded(info.value)


async def test_json_followed_by_whitespace_is_fine(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    adgate_server.script("u1", Answer.ok(body=msgspec.json.encode({"data": []}) + b" \r\n\t "))
    history = await adgate_session.get_history("u1")
    assert history.data == ()


async def test_raw_history_response(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    raw = await adgate_session.with_raw_response.get_history("u")
    assert isinstance(raw, RawResponse)
    assert raw.status == 200
    assert raw.headers["Content-Type"].startswith("application/json")
    assert raw.json() == make_history("u")
    parsed = raw.parse()
    assert isinstance(parsed, History)
    assert parsed == await adgate_session.get_history("u")
    assert "api_key=***" in raw.url
    assert raw.attempts == 1


async def test_raw_response_reaches_unknown_fields(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    doc = {"status": "success", "publisher_id": 1, "wall_id": 2, "support_id": 3, "total": 1,
           "offset": 0, "limit": 0, "offers": [], "brand_new_field": {"x": 1}}
    adgate_server.always("u", Answer.ok(body=msgspec.json.encode(doc)), endpoint="personalized")
    raw = await adgate_session.with_raw_response.get_personalized("u", numoffers=1)
    assert raw.json()["brand_new_field"] == {"x": 1}
    assert isinstance(raw.parse(), Personalized)


async def test_raw_response_still_maps_errors_and_retries(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    adgate_server.script("u", Answer.error(503))
    raw = await adgate_session.with_raw_response.get_history("u")
    assert raw.attempts == 2
    adgate_server.always("b", Answer.ban("USER_BANNED"))
    with pytest.raises(UserBannedError):
        await adgate_session.with_raw_response.get_history("b")
