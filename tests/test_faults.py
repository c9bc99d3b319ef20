"""The stand-in server's fault knobs and the pytest plugin fixtures. (What the client does
with slow or broken servers: test_transport.py.)"""

from __future__ import annotations

import pytest

from adgate_async import (
    APIStatusError,
    AsyncSession,
    ServerError,
    UserBannedError,
)
from adgate_async.testing import Answer, Faults, StandInServer

from ._support import (
    make_session,
)


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
