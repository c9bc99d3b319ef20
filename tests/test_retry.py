"""The retry policy: unit tests of its parts, then real retries against the stand-in server."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
import traceback
from typing import Any

import msgspec
import pytest
import tenacity

from adgate_async import (
    AdGateError,
    APIStatusError,
    APITimeoutError,
    AsyncSession,
    BadRequestError,
    BannedError,
    DecodeError,
    IPBannedError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    UserBannedError,
)
from adgate_async._retry import RetryPolicy, retry_reason
from adgate_async._status import parse_retry_after
from adgate_async.testing import Answer, StandInServer

from ._support import (
    assert_clean,
    assert_logs_clean,
    assert_session_clean,
    assert_walk_clean,
    echoing,
    free_port,
    make_session,
    wait_until,
)

URL = "http://127.0.0.1:1/x"


async def no_sleep(seconds: float) -> None:
    return None


def status_error(status: int, retry_after: float | None = None) -> APIStatusError:
    cls = ServerError if status >= 500 else RateLimitError if status == 429 else APIStatusError
    return cls("m", status=status, method="GET", url=URL, retry_after=retry_after)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0", 0.0), ("1.5", 1.5), (" 7 ", 7.0), ("-1", None), ("abc", None),
     ("", None), (None, None), ("inf", None), ("nan", None)],
)
def test_parse_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    future = email.utils.formatdate(now + 30, usegmt=True)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after(future, now=now) == pytest.approx(30.0)
    assert parse_retry_after(past, now=now) == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00", now=now) is None  # no zone


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(backoff=0.5, backoff_max=3.0, random=lambda: 0.0)
    err = status_error(500)
    assert [policy.delay(err, n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_takes_off_at_most_a_quarter() -> None:
    low = RetryPolicy(backoff=1.0, backoff_max=10.0, random=lambda: 0.999999)
    assert low.delay(status_error(500), 2) == pytest.approx(1.5, rel=1e-3)
    seen = {RetryPolicy(backoff=1.0).delay(status_error(500), 1) for _ in range(50)}
    assert all(0.75 <= d <= 1.0 for d in seen)
    assert len(seen) > 1  # it really is random


def test_retry_after_wins_even_above_backoff_max() -> None:
    policy = RetryPolicy(backoff=0.5, backoff_max=2.0, random=lambda: 0.0)
    assert policy.delay(status_error(429, retry_after=30.0), 1) == 30.0
    assert policy.delay(status_error(503, retry_after=0.0), 3) == 0.0
    assert policy.should_retry(status_error(429, retry_after=60.0))
    assert not policy.should_retry(status_error(429, retry_after=61.0))


def test_what_is_retryable() -> None:
    for status in (408, 429, 500, 502, 503, 504, 599):
        assert retry_reason(status_error(status)) == f"http_{status}"
    for status in (400, 401, 403, 404, 409, 422):
        assert retry_reason(status_error(status)) is None
    assert retry_reason(APITimeoutError("t", method="GET", url=URL)) == "timeout"
    assert retry_reason(TransportError("t", method="GET", url=URL)) == "transport"
    assert retry_reason(TransportError("tls", method="GET", url=URL, retryable=False)) is None
    decode = DecodeError("d", path=None, status=200, body=b"", method="GET", url=URL)
    assert retry_reason(decode) is None
    assert retry_reason(asyncio.CancelledError()) is None
    assert retry_reason(ValueError()) is None


async def test_retry_loop_sleeps_between_attempts_and_returns() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    policy = RetryPolicy(max_retries=5, backoff=1.0, backoff_max=100.0, sleep=sleep,
                         random=lambda: 0.0)
    numbers: list[int] = []

    async def attempt(n: int) -> str:
        numbers.append(n)
        if n < 4:
            raise status_error(500)
        return "done"

    told: list[tuple[float, int]] = []
    result = await policy.retry(status_error(503), attempt, lambda e, d, n: told.append((d, n)))
    assert result == "done"
    assert numbers == [2, 3, 4]
    assert slept == [1.0, 2.0, 4.0]
    assert told == [(1.0, 2), (2.0, 3), (4.0, 4)]


async def test_retry_loop_raises_the_last_typed_error_not_retry_error() -> None:
    policy = RetryPolicy(max_retries=2, sleep=no_sleep)

    async def attempt(n: int) -> None:
        raise status_error(500 + n)

    with pytest.raises(ServerError) as info:
        await policy.retry(status_error(500), attempt, lambda e, d, n: None)
    assert not isinstance(info.value, tenacity.RetryError)
    assert info.value.status == 503  # the error of the last (third) attempt


async def test_retry_loop_stops_at_a_non_retryable_error() -> None:
    calls: list[int] = []

    async def attempt(n: int) -> None:
        calls.append(n)
        raise BadRequestError("bad", status=400, method="GET", url=URL)

    with pytest.raises(BadRequestError):
        await RetryPolicy(max_retries=5, sleep=no_sleep).retry(
            status_error(500), attempt, lambda e, d, n: None
        )
    assert calls == [2]


async def test_retry_loop_never_retries_cancellation() -> None:
    calls: list[int] = []

    async def attempt(n: int) -> None:
        calls.append(n)
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await RetryPolicy(max_retries=5, sleep=no_sleep).retry(
            status_error(500), attempt, lambda e, d, n: None
        )
    assert calls == [2]


async def test_5xx_then_success(adgate_server: StandInServer, adgate_session: AsyncSession) -> None:
    adgate_server.script("u", Answer.error(500), Answer.error(503))
    history = await adgate_session.get_history("u")
    assert history.data
    assert adgate_server.count("u") == 3
    assert adgate_session.stats.retries == 2
    assert adgate_session.stats.retries_by_reason == {"http_500": 1, "http_503": 1}
    assert adgate_session.stats.attempts == 3
    assert adgate_session.stats.successes == 1


@pytest.mark.parametrize("max_retries", [0, 1, 3])
async def test_max_retries_means_n_plus_one_attempts(
    adgate_server: StandInServer, max_retries: int
) -> None:
    adgate_server.always("u", Answer.error(500))
    async with make_session(max_retries=max_retries, **adgate_server.session_urls()) as s:
        with pytest.raises(ServerError) as info:
            await s.get_history("u")
    assert adgate_server.count("u") == max_retries + 1
    assert info.value.attempts == max_retries + 1
    assert s.stats.failures == 1
    assert s.stats.errors_by_type == {"ServerError": 1}


@pytest.mark.parametrize("endpoint", ["history", "personalized"])
@pytest.mark.parametrize(("code", "cls"),
                         [("USER_BANNED", UserBannedError), ("IP_BANNED", IPBannedError)])
async def test_ban_hits_the_server_exactly_once(
    adgate_server: StandInServer, endpoint: str, code: str, cls: type[BannedError],
) -> None:
    adgate_server.always("banned", Answer.ban(code, support_id=31337))
    async with make_session(max_retries=5, **adgate_server.session_urls()) as s:
        call = (s.get_history("banned") if endpoint == "history"
                else s.get_personalized("banned", numoffers=5))
        with pytest.raises(cls) as info:
            await call
    assert adgate_server.count("banned") == 1
    err = info.value
    assert isinstance(err, BannedError)
    assert (err.status, err.code, err.support_id) == (403, code, 31337)
    assert err.message == code.lower().replace("_", " ")
    assert err.attempts == 1
    assert s.stats.bans == 1
    assert s.stats.retries == 0


async def test_404_and_decode_errors_are_not_retried(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    adgate_server.always("missing", Answer.error(404))
    adgate_server.always("garbled", Answer.ok(body=b'{"data": [{"offer_id": "x"}]}'))
    with pytest.raises(NotFoundError):
        await adgate_session.get_history("missing")
    with pytest.raises(DecodeError):
        await adgate_session.get_history("garbled")
    assert adgate_server.count("missing") == 1
    assert adgate_server.count("garbled") == 1


async def test_retry_after_is_honoured_above_backoff_max(adgate_server: StandInServer) -> None:
    adgate_server.script("u", Answer.error(503, retry_after=1))
    async with make_session(retry_backoff=0.001, retry_backoff_max=0.005,
                            **adgate_server.session_urls()) as s:
        started = time.monotonic()
        await s.get_history("u")
        elapsed = time.monotonic() - started
    assert elapsed >= 0.95
    assert s.stats.seconds_slept == pytest.approx(1.0)
    assert adgate_server.count("u") == 2


async def test_retry_after_beyond_cap_fails_at_once(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    adgate_server.always("u", Answer.error(429, retry_after=120))
    started = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        await adgate_session.get_history("u")
    assert time.monotonic() - started < 5
    assert info.value.retry_after == 120.0
    assert info.value.attempts == 1
    assert adgate_server.count("u") == 1


async def test_timeout_is_retried_then_raised(adgate_server: StandInServer) -> None:
    adgate_server.always("slow", Answer.hang())
    adgate_server.script("once", Answer.hang())
    async with make_session(timeout=0.2, max_retries=1, **adgate_server.session_urls()) as s:
        assert (await s.get_history("once")).data
        with pytest.raises(APITimeoutError) as info:
            await s.get_history("slow")
    assert isinstance(info.value, TransportError)
    assert info.value.attempts == 2
    assert adgate_server.count("slow") == 2
    assert adgate_server.count("once") == 2
    assert s.stats.retries_by_reason == {"timeout": 2}


async def test_reset_connection_is_retried(adgate_server: StandInServer) -> None:
    adgate_server.script("u", Answer.drop())
    async with make_session(**adgate_server.session_urls()) as s:
        assert (await s.get_history("u")).data
    assert adgate_server.count("u") == 2


async def test_reset_connection_without_retries_is_a_transport_error(
    adgate_server: StandInServer,
) -> None:
    adgate_server.always("u", Answer.drop())
    async with make_session(max_retries=0, **adgate_server.session_urls()) as s:
        with pytest.raises(TransportError) as info:
            await s.get_history("u")
    assert not isinstance(info.value, APITimeoutError)
    assert info.value.attempts == 1


async def test_truncated_body_is_retried(adgate_server: StandInServer) -> None:
    adgate_server.script("u", Answer.truncated())
    async with make_session(**adgate_server.session_urls()) as s:
        assert (await s.get_history("u")).data
    assert adgate_server.count("u") == 2
    adgate_server.always("v", Answer.truncated())
    async with make_session(max_retries=0, **adgate_server.session_urls()) as s:
        with pytest.raises(TransportError, match="Payload"):
            await s.get_history("v")


async def test_connection_refused_is_retried_then_raised() -> None:
    port = free_port()  # a port that nothing listens on
    base = f"http://127.0.0.1:{port}"
    async with make_session(max_retries=2, adgate_base_url=base, revu_base_url=base) as s:
        with pytest.raises(TransportError) as info:
            await s.get_history("u")
    assert info.value.attempts == 3
    assert s.stats.attempts == 3
    assert s.stats.retries_by_reason == {"transport": 2}


async def test_cancellation_during_a_request_is_not_retried(adgate_server: StandInServer) -> None:
    adgate_server.always("u", Answer.hang())
    async with make_session(max_retries=3, **adgate_server.session_urls()) as s:
        task = asyncio.create_task(s.get_history("u"))
        await wait_until(lambda: adgate_server.count("u") == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert s.stats.retries == 0
        assert (await s.get_history("other")).data  # the session is still usable
    assert adgate_server.count("u") == 1


async def test_cancellation_during_backoff_propagates(adgate_server: StandInServer) -> None:
    adgate_server.always("u", Answer.error(500))
    async with make_session(retry_backoff=30.0, retry_backoff_max=30.0,
                            **adgate_server.session_urls()) as s:
        task = asyncio.create_task(s.get_history("u"))
        await wait_until(lambda: s.stats.retries == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert adgate_server.count("u") == 1


def odd_body(support_id: Any, *, code: str = "SOMETHING") -> bytes:
    doc = {"status": "error", "support_id": support_id,
           "error": {"code": code, "message": "odd", "support_id": support_id}}
    return msgspec.json.encode(doc)


async def test_503_with_odd_support_id_is_retried(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    adgate_server.script("u1", Answer(status=503, body=odd_body("①")), Answer.ok())
    history = await adgate_session.get_history("u1")
    assert history.data
    assert adgate_server.count("u1") == 2


async def test_503_with_odd_support_id_exhausts_to_server_error(
    adgate_server: StandInServer
) -> None:
    async with make_session(**adgate_server.session_urls(), max_retries=1) as s:
        adgate_server.always("u1", Answer(status=503, body=odd_body("²")))
        with pytest.raises(ServerError) as info:
            await s.get_history("u1")
    assert info.value.attempts == 2
    assert info.value.support_id is None


@pytest.mark.parametrize("value", ["Mon, 01 Jan 99999999999999999999 00:00:00 GMT",
                                   "Mon, 01 Jan 2026 99999999999999999:00:00 GMT",
                                   "Mon, 01 Jan 2026 00:00:00 +99999999999999999999"],
                         ids=["year", "hour", "zone"])
async def test_retry_after_date_out_of_range_is_ignored(
    adgate_server: StandInServer, adgate_session: AsyncSession, value: str
) -> None:
    # A Retry-After date too far out for the platform's clock is unreadable, like any other
    # unreadable value: the normal backoff applies and the 503 is retried.
    adgate_server.script("u1", Answer(status=503, body=odd_body(1), headers={"Retry-After": value}),
                  Answer.ok())
    history = await adgate_session.get_history("u1")
    assert history.data
    assert adgate_server.count("u1") == 2


async def test_retries_by_reason_record_each_fault(adgate_server: StandInServer) -> None:
    """The mixed scenario above really went through three kinds of fault."""
    adgate_server.script("u", Answer.truncated(), echoing(500))
    adgate_server.always("u", echoing(503))
    async with make_session(max_retries=2, **adgate_server.session_urls()) as s:
        with pytest.raises(AdGateError) as info:
            await s.get_history("u")
        assert s.stats.retries_by_reason == {"transport": 1, "http_500": 1}
        assert s.stats.attempts == 3
        assert_session_clean(s)
    assert isinstance(info.value, APIStatusError)
    assert info.value.status == 503


async def test_cancelling_a_request_sleeping_in_backoff_is_clean(
    adgate_server: StandInServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    adgate_server.always("u", echoing(500))
    async with make_session(retry_backoff=30, retry_backoff_max=30,
                            **adgate_server.session_urls()) as s:
        task = asyncio.create_task(s.get_history("u"))
        await wait_until(lambda: s.stats.retries == 1)  # told of the sleep: now in it
        assert adgate_server.count("u") == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
        text = "".join(traceback.format_exception(info.value))
        assert "_retry.py" in text  # cancelled inside the retry loop's sleep
        assert_clean(text)
        assert_walk_clean(info.value)
        assert_clean(repr(task))
        assert_session_clean(s)
    assert adgate_server.count("u") == 1  # no attempt after the cancellation
    assert any("retrying GET" in r.getMessage() for r in caplog.records)
    assert_logs_clean(caplog)
