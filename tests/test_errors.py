"""The exception classes: hierarchy, str/repr, pickling."""

from __future__ import annotations

import pickle

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

from ._support import (
    ANY,
    make_session,
)


def test_hierarchy() -> None:
    for cls in (BadRequestError, BannedError, NotFoundError, RateLimitError, ServerError):
        assert issubclass(cls, APIStatusError)
    assert issubclass(UserBannedError, BannedError)
    assert issubclass(IPBannedError, BannedError)
    assert PermissionDeniedError is BannedError
    assert issubclass(APIStatusError, AdGateError)
    assert issubclass(DecodeError, AdGateError)


def ban_body(code: str, support_id: object = 555) -> dict[str, object]:
    return {"status": "failure", "support_id": support_id,
            "error": {"code": code, "message": f"{code} says the vendor"}}


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
