"""The stand-in server's fault knobs, the pytest plugin, and slow or broken servers."""

from __future__ import annotations

import asyncio
import gzip
import time

import pytest

from adgate_async import (
    APIStatusError,
    APITimeoutError,
    AsyncSession,
    DecodeError,
    ResponseTooLargeError,
    ServerError,
    TransportError,
    UserBannedError,
)
from adgate_async.testing import Answer, Faults, StandInServer, make_history

from ._support import make_session

# ------------------------------------------------------------------ the fault plan


def test_faults_are_reproducible_and_follow_the_rates() -> None:
    faults = Faults(error_rate=0.2, reset_rate=0.1, seed=3)
    picks = [faults.pick(f"u{i}", 0) for i in range(5000)]
    assert picks == [Faults(error_rate=0.2, reset_rate=0.1, seed=3).pick(f"u{i}", 0)
                     for i in range(5000)]
    assert 0.17 < picks.count("error") / 5000 < 0.23
    assert 0.08 < picks.count("reset") / 5000 < 0.12
    other_seed = [Faults(error_rate=0.2, reset_rate=0.1, seed=4).pick(f"u{i}", 0)
                  for i in range(5000)]
    assert other_seed != picks
    # A user's second request draws afresh: faults are not sticky.
    assert [faults.pick(f"u{i}", 1) for i in range(200)] != picks[:200]


def test_bans_by_pattern_always_apply() -> None:
    faults = Faults(error_rate=1.0, ban_pattern=r"^bad-", ip_ban_pattern=r"-ip$")
    assert faults.pick("bad-1", 0) == "ban"
    assert faults.pick("bad-1", 5) == "ban"
    assert faults.pick("x-ip", 0) == "ip_ban"
    assert faults.pick("good", 0) == "error"


@pytest.mark.parametrize("kwargs", [{"error_rate": 1.5}, {"error_rate": 0.6, "reset_rate": 0.6},
                                    {"error_status": 404}])
def test_bad_fault_plans_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"rate|status"):
        Faults(**kwargs)  # type: ignore[arg-type]


async def test_server_injects_and_records_faults() -> None:
    faults = Faults(error_rate=0.3, rate_limit_rate=0.1, retry_after=0.01, seed=1,
                    ban_pattern="^banned")
    async with (
        StandInServer(faults=faults) as server,
        make_session(max_retries=0, **server.session_urls()) as s,
    ):
        results = await s.gather_users([f"u{i}" for i in range(200)] + ["banned-1"],
                                       concurrency=1)
    for result, request in zip(results, server.requests, strict=True):
        assert request.user_id == result.user_id
        if request.fault is None:
            assert result.ok
        elif request.fault == "error":
            assert isinstance(result.error, ServerError)
        elif request.fault == "rate_limit":
            assert isinstance(result.error, APIStatusError)
            assert result.error.status == 429
            assert result.error.retry_after == 0.01
        else:
            assert request.fault == "ban"
            assert isinstance(result.error, UserBannedError)
    assert server.fault_counts["ban"] == 1
    assert sum(server.fault_counts.values()) == sum(not r.ok for r in results)


# ------------------------------------------------------------------- pytest plugin


async def test_plugin_fixtures(adgate_server: StandInServer,
                               adgate_session: AsyncSession) -> None:
    """The fixtures come from the package's pytest11 entry point, not from conftest.py."""
    adgate_server.always("b", Answer.ban())
    assert (await adgate_session.get_history("u")).data
    with pytest.raises(UserBannedError):
        await adgate_session.get_history("b")
    adgate_server.faults = Faults(error_rate=1.0)
    with pytest.raises(ServerError) as info:
        await adgate_session.get_history("always-failing")
    assert info.value.attempts == 4


# ---------------------------------------------------------- slow and broken servers


async def test_a_server_that_never_answers(server: StandInServer) -> None:
    server.always("u", Answer.hang())
    async with make_session(timeout=0.2, max_retries=2, **server.session_urls()) as s:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            await s.get_history("u")
    assert info.value.attempts == 3
    assert server.count("u") == 3
    assert time.monotonic() - started < 3


async def test_headers_then_a_stalled_body(server: StandInServer) -> None:
    server.script("u", Answer.stalled())
    async with make_session(timeout=0.3, **server.session_urls()) as s:
        assert (await s.get_history("u")).data  # timed out once, then retried
        assert s.stats.retries_by_reason == {"timeout": 1}
    server.always("v", Answer.stalled())
    async with make_session(timeout=0.2, max_retries=1, **server.session_urls()) as s:
        with pytest.raises(APITimeoutError):
            await s.get_history("v")


async def test_a_slow_but_good_body_is_read_whole(server: StandInServer) -> None:
    server.script("u", Answer.slow(0.05))
    async with make_session(**server.session_urls()) as s:
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
    server: StandInServer, answer: Answer, error: type[Exception]
) -> None:
    server.always("u", answer)
    async with make_session(max_retries=1, **server.session_urls()) as s:
        with pytest.raises(error) as info:
            await s.get_history("u")
    assert "Traceback" not in str(info.value)


async def test_an_oversized_body_is_refused_unread(server: StandInServer) -> None:
    async with make_session(max_response_bytes=1000, max_retries=3,
                            **server.session_urls()) as s:
        with pytest.raises(ResponseTooLargeError) as info:
            await s.get_history("u")  # ~6 KB generated history
        assert info.value.limit == 1000
        assert info.value.size is not None
        assert info.value.size > 1000
        assert "max_response_bytes" in str(info.value)
        assert isinstance(info.value, TransportError)
        assert server.count("u") == 1  # never retried
        # The session is still fine for answers under the limit.
        server.always("small", Answer.ok(body=b'{"data": []}'))
        assert (await s.get_history("small")).data == []


async def test_an_oversized_body_of_unknown_length_stops_early(server: StandInServer) -> None:
    big = b'{"data": [' + b",".join([b'{"x": "' + b"y" * 1000 + b'"}'] * 200) + b"]}"
    server.always("u", Answer.slow(0.01, body=big, chunked=True))  # no Content-Length
    server.always("ok", Answer.slow(0.01, chunked=True))
    async with make_session(max_response_bytes=50_000, **server.session_urls()) as s:
        with pytest.raises(ResponseTooLargeError) as info:
            await s.get_history("u")
        assert info.value.size is None
        assert server.count("u") == 1
        assert (await s.get_history("ok")).data  # a chunked body under the limit is fine


def test_max_response_bytes_is_validated() -> None:
    with pytest.raises(ValueError, match="max_response_bytes"):
        make_session(max_response_bytes=0)


async def test_default_limit_is_generous(server: StandInServer) -> None:
    big = StandInServer(offers_per_user=400)
    async with big, make_session(**big.session_urls()) as s:
        history = await s.get_history("many")
    assert len(history.data) == 400
    await asyncio.sleep(0)


async def test_a_compressed_body_is_capped_after_decompression(server: StandInServer) -> None:
    big = b'{"data": [' + b",".join([b'{"x": "' + b"y" * 1000 + b'"}'] * 2000) + b"]}"
    packed = gzip.compress(big)
    assert len(packed) < 50_000 < len(big)
    server.always("u", Answer(status=200, body=packed, headers={"Content-Encoding": "gzip"}))
    async with make_session(max_response_bytes=100_000, **server.session_urls()) as s:
        with pytest.raises(ResponseTooLargeError):
            await s.with_raw_response.get_history("u")
        assert server.count("u") == 1
        small = gzip.compress(b'{"data": []}')
        server.always("v", Answer(status=200, body=small, headers={"Content-Encoding": "gzip"}))
        assert (await s.get_history("v")).data == []
