"""Status-to-exception mapping and error bodies, checked with aioresponses."""

from __future__ import annotations

import pickle
import re

import pytest
from aioresponses import aioresponses

from adgate_async import (
    AdGateError,
    APIStatusError,
    BadRequestError,
    BannedError,
    DecodeError,
    IPBannedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UserBannedError,
)
from adgate_async._status import parse_error_body

from ._support import API_KEY, make_session

ANY = re.compile(r".*")


def calls(mocked: aioresponses) -> int:
    return sum(len(v) for v in mocked.requests.values())


def ban_body(code: str, support_id: object = 555) -> dict[str, object]:
    return {"status": "failure", "support_id": support_id,
            "error": {"code": code, "message": f"{code} says the vendor"}}


@pytest.mark.parametrize("endpoint", ["history", "personalized"])
@pytest.mark.parametrize(
    ("code", "cls"), [("USER_BANNED", UserBannedError), ("IP_BANNED", IPBannedError)]
)
async def test_ban_is_typed_and_sent_once(
    mock_http: aioresponses, endpoint: str, code: str, cls: type[BannedError]
) -> None:
    mock_http.get(ANY, status=403, payload=ban_body(code), repeat=True)
    async with make_session(max_retries=5) as s:
        call = s.get_history("u") if endpoint == "history" else s.get_personalized("u", numoffers=3)
        with pytest.raises(cls) as info:
            await call
    err = info.value
    assert (err.status, err.code, err.support_id) == (403, code, 555)
    assert err.message == f"{code} says the vendor"
    assert err.attempts == 1
    assert isinstance(err, BannedError)
    assert calls(mock_http) == 1
    assert s.stats.bans == 1
    assert s.stats.retries == 0


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


async def test_redirect_is_not_followed(mock_http: aioresponses) -> None:
    mock_http.get(ANY, status=302, headers={"Location": f"https://elsewhere.test/?k={API_KEY}"})
    async with make_session() as s:
        with pytest.raises(APIStatusError) as info:
            await s.get_history("u")
    assert info.value.status == 302
    assert "redirect" in str(info.value)
    assert "elsewhere.test" in str(info.value)
    assert API_KEY not in str(info.value)
    assert API_KEY not in info.value.headers["Location"]
    assert calls(mock_http) == 1


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


def test_hierarchy() -> None:
    for cls in (BadRequestError, BannedError, NotFoundError, RateLimitError, ServerError):
        assert issubclass(cls, APIStatusError)
    assert issubclass(UserBannedError, BannedError)
    assert issubclass(IPBannedError, BannedError)
    assert PermissionDeniedError is BannedError
    assert issubclass(APIStatusError, AdGateError)
    assert issubclass(DecodeError, AdGateError)


async def test_errors_survive_pickling(mock_http: aioresponses) -> None:
    mock_http.get(ANY, status=403, payload=ban_body("USER_BANNED"))
    async with make_session() as s:
        with pytest.raises(UserBannedError) as info:
            await s.get_history("u")
    clone = pickle.loads(pickle.dumps(info.value))
    assert type(clone) is UserBannedError
    assert (clone.status, clone.code, clone.support_id, clone.url) == (
        403, "USER_BANNED", 555, info.value.url,
    )
    assert str(clone) == str(info.value)
