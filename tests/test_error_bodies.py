"""Error bodies from the server never raise anything but the typed error, and every text and
body an error keeps is bounded (issue 9, items 1 and 16)."""

from __future__ import annotations

import pickle
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from adgate_async import (
    AsyncSession,
    BannedError,
    NotFoundError,
    ServerError,
)
from adgate_async._errors import Redactor, error_for_status, parse_error_body
from adgate_async.testing import Answer, StandInServer

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
