"""Error answers turned into typed errors: the status mapping, tolerant error bodies
(odd support ids, any bytes), bounded messages and bodies.
"""

from __future__ import annotations

import pickle
from typing import Any

import msgspec
import pytest
from aioresponses import aioresponses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from adgate_async import (
    APIStatusError,
    AsyncSession,
    BadRequestError,
    BannedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from adgate_async._redact import Redactor
from adgate_async._status import error_for_status, parse_error_body
from adgate_async.testing import Answer, StandInServer

from ._support import (
    ANY,
    API_KEY,
    assert_bounded,
    calls,
    huge_error_body,
    make_session,
)


async def test_other_403_is_a_plain_banned_error(mock_http: aioresponses) -> None:
    mock_http.get(ANY, status=403, body="Forbidden", content_type="text/plain")
    async with make_session() as s:
        with pytest.raises(PermissionDeniedError) as info:
            await s.get_history("u")
    assert type(info.value) is BannedError
    assert info.value.code is None
    assert info.value.message == "Forbidden"  # the reason phrase when the body has none
    assert s.stats.bans == 0


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, BadRequestError), (404, NotFoundError), (401, APIStatusError),
     (409, APIStatusError), (418, APIStatusError)],
)
async def test_client_errors_are_typed_and_never_retried(
    mock_http: aioresponses, status: int, cls: type[APIStatusError]
) -> None:
    mock_http.get(ANY, status=status, payload={"error": {"code": "X", "message": "m"}},
                  repeat=True)
    async with make_session(max_retries=3) as s:
        with pytest.raises(cls) as info:
            await s.get_personalized("u", numoffers=1)
    assert type(info.value) is cls
    assert info.value.status == status
    assert calls(mock_http) == 1


@pytest.mark.parametrize(
    ("status", "cls"), [(429, RateLimitError), (500, ServerError), (502, ServerError),
                        (503, ServerError), (599, ServerError), (408, APIStatusError)]
)
async def test_retryable_statuses_raise_typed_error_when_retries_run_out(
    mock_http: aioresponses, status: int, cls: type[APIStatusError]
) -> None:
    mock_http.get(ANY, status=status, payload={"support_id": 9}, repeat=True)
    async with make_session(max_retries=2) as s:
        with pytest.raises(cls) as info:
            await s.get_history("u")
    assert type(info.value) is cls
    assert info.value.status == status
    assert info.value.support_id == 9
    assert info.value.attempts == 3
    assert calls(mock_http) == 3


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"status":"error","support_id":7,"error":{"code":"C","message":"M"}}', ("C", "M", 7)),
        (b'{"error":{"code":"C","message":"M","support_id":8}}', ("C", "M", 8)),
        (b'{"support_id":"12","message":"top level"}', (None, "top level", 12)),
        (b'{"error":"just text"}', (None, "just text", None)),
        (b'{"error":{"code":"C"},"message":"outer"}', ("C", "outer", None)),
        (b'{"support_id":"n/a","error":{}}', (None, None, None)),
        (b"<html><body>502 Bad Gateway</body></html>", (None, None, None)),
        (b"", (None, None, None)),
        (b"[1,2]", (None, None, None)),
        (b'{"error":{"code":5}}', (None, None, None)),
        # One field of an unexpected type must not hide the others (a ban above all).
        (b'{"status":403,"error":{"code":"USER_BANNED"}}', ("USER_BANNED", None, None)),
        (b'{"support_id":77.0,"message":["x"],"error":{"code":"IP_BANNED","message":{}}}',
         ("IP_BANNED", None, 77)),
        (b'{"support_id":true,"error":{"code":"C","support_id":"9"}}', ("C", None, 9)),
    ],
)
def test_error_body_is_parsed_tolerantly(
    body: bytes, expected: tuple[str | None, str | None, int | None]
) -> None:
    assert parse_error_body(body) == expected


async def test_html_error_page_keeps_body_and_uses_reason(mock_http: aioresponses) -> None:
    page = "<html><body>502 Bad Gateway</body></html>"
    mock_http.get(ANY, status=502, body=page, content_type="text/html", repeat=True)
    async with make_session(max_retries=0) as s:
        with pytest.raises(ServerError) as info:
            await s.get_history("u")
    assert info.value.body == page.encode()
    assert info.value.message == "Bad Gateway"
    assert info.value.code is None


# Values that pass str.isdigit() but are not plain decimal integers, and a value too long
# for int() to convert.
ODD_SUPPORT_IDS: list[Any] = ["²", "①", "٣", "7" * 5000, "\uff11\uff12", "-1", 1e300, -5,
                              2**70, True, "12a", "", None, [1], {"a": 1}, 1.5]


def odd_body(support_id: Any, *, code: str = "SOMETHING") -> bytes:
    doc = {"status": "error", "support_id": support_id,
           "error": {"code": code, "message": "odd", "support_id": support_id}}
    return msgspec.json.encode(doc)


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
    adgate_server: StandInServer, adgate_session: AsyncSession, support_id: str
) -> None:
    adgate_server.script("u1", Answer(status=403, body=odd_body(support_id, code="USER_BANNED")))
    with pytest.raises(BannedError) as info:
        await adgate_session.get_history("u1")
    assert info.value.support_id is None
    assert info.value.code == "USER_BANNED"


async def test_gather_users_odd_support_id_fails_only_that_user(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    adgate_server.script("bad", Answer(status=404, body=odd_body("²")))
    ids = ["a", "b", "bad", "c", "d"]
    results = await adgate_session.gather_users(ids, concurrency=2)
    assert [r.user_id for r in results] == ids
    assert [r.error is None for r in results] == [True, True, False, True, True]
    assert isinstance(results[2].error, NotFoundError)


async def test_iter_users_odd_support_id_does_not_stop_the_batch(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    adgate_server.script("bad", Answer(status=403, body=odd_body("7" * 5000)))
    ids = ["a", "bad", "b", "c"]
    seen = [r async for r in adgate_session.iter_users(ids, concurrency=1, ordered=True)]
    assert [r.user_id for r in seen] == ids
    assert isinstance(seen[1].error, BannedError)


_NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


_REDACTOR = Redactor(API_KEY)


def _check_mapping(body: bytes, status: int) -> None:
    error = error_for_status(status=status, reason="Reason", body=body, headers=_NO_HEADERS,
                             method="GET", url="http://x/", redactor=_REDACTOR)
    str(error)
    repr(error)
    pickle.loads(pickle.dumps(error))


def _check_parse(body: bytes) -> None:
    code, message, support_id = parse_error_body(body)
    assert code is None or isinstance(code, str)
    assert message is None or isinstance(message, str)
    assert support_id is None or type(support_id) is int


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_error_body_parser_never_raises_on_any_bytes(body: bytes) -> None:
    _check_parse(body)
    _check_mapping(body, 500)


_fields = st.sampled_from(["status", "code", "message", "support_id", "error", "errors"])


_error_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_fields, inner, max_size=5),
    max_leaves=20,
)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_json, _error_like), st.sampled_from([400, 403, 404, 429, 503, 302, 418]))
def test_error_body_parser_never_raises_on_any_json(doc: Any, status: int) -> None:
    body = msgspec.json.encode(doc)
    _check_parse(body)
    _check_mapping(body, status)


def test_error_body_parser_survives_deep_nesting() -> None:
    _check_parse(b"[" * 100_000 + b"]" * 100_000)
    _check_parse(b'{"error":' * 50_000 + b"1" + b"}" * 50_000)


_HUGE = 8 * 1024 * 1024


async def test_huge_403_message_is_capped(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    adgate_server.script("u1", Answer(status=403, body=huge_error_body(_HUGE)))
    with pytest.raises(BannedError) as info:
        await adgate_session.get_history("u1")
    assert_bounded(info.value)
    assert info.value.message.startswith("xxxx")
    assert f"{_HUGE:,} characters in all" in info.value.message
    assert info.value.code == "BIG"
    assert info.value.body.startswith(b'{"status":"error"')


async def test_gather_users_keeps_bounded_bodies(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    ids = [f"u{i}" for i in range(6)]
    for user_id in ids[1:]:
        adgate_server.script(user_id, Answer(status=404, body=huge_error_body(1024 * 1024)))
    results = await adgate_session.gather_users(ids, concurrency=3)
    assert results[0].error is None
    for result in results[1:]:
        assert isinstance(result.error, NotFoundError)
        assert_bounded(result.error)
