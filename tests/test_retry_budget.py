"""The per-batch retry budget (``retry_budget=``, issue 11 item 7b), against the stand-in
adgate_server: when most attempts fail, retries add at most ``RETRY_BUDGET_MIN + ratio * users`` to
the requests the server sees; a batch with a few errors is not affected; ``None`` turns the
budget off; single calls never have one; bad values are refused before any request."""

from __future__ import annotations

import math
from typing import Any

import pytest

from adgate_async import AsyncSession, InvalidParameterError, ServerError
from adgate_async._config import (
    RETRY_BUDGET_MAX_BALANCE,
    RETRY_BUDGET_MIN,
    RETRY_BUDGET_RATIO,
)
from adgate_async._retry import RetryBudget
from adgate_async.testing import Answer, Faults, StandInServer

from ._support import make_session

USERS = 1_000


def storm(adgate_server: StandInServer, ids: list[str], *failures: int) -> None:
    """Each id: the given failing statuses first, then its normal answer."""
    for uid in ids:
        adgate_server.script(uid, *(Answer.error(status) for status in failures))


async def run_batch(s: AsyncSession, kind: str, ids: list[str], **kwargs: Any) -> list[Any]:
    if kind == "gather_users":
        return list(await s.gather_users(ids, **kwargs))
    if kind == "iter_users":
        async with s.iter_users(ids, **kwargs) as it:
            return [r async for r in it]
    if kind == "gather_personalized":
        return list(await s.gather_personalized(ids, numoffers=3, **kwargs))
    assert kind == "iter_personalized"
    async with s.iter_personalized(ids, numoffers=3, **kwargs) as pit:
        return [r async for r in pit]


@pytest.mark.parametrize(
    ("kind", "kwargs"),
    [
        ("gather_users", {}),  # the default budget, 0.2
        ("iter_users", {"retry_budget": 0.2}),
        ("gather_personalized", {}),
        ("iter_personalized", {"retry_budget": 0.2, "concurrency": 32}),
    ],
)
async def test_a_failing_batch_adds_at_most_the_budget_in_retries(
    adgate_server: StandInServer, adgate_session: AsyncSession, kind: str, kwargs: dict[str, Any]
) -> None:
    ids = [f"u{i}" for i in range(USERS)]
    storm(adgate_server, ids, 500)  # every first attempt fails; every retry would succeed

    results = await run_batch(adgate_session, kind, ids, **kwargs)

    assert sorted(r.index for r in results) == list(range(USERS))
    sent = adgate_server.total_requests
    retried = sent - USERS
    # The exact bound: every user once, plus the minimum, plus 20 % of the users.
    assert sent <= USERS + RETRY_BUDGET_MIN + RETRY_BUDGET_RATIO * USERS
    assert retried >= RETRY_BUDGET_MIN  # the budget was used, not merely refused
    ok = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    assert len(ok) == retried  # each granted retry succeeded
    assert len(failed) == USERS - retried
    for r in failed:  # the error of the one attempt made, not a retry-exhaustion
        assert isinstance(r.error, ServerError)
        assert (r.error.status, r.error.attempts) == (500, 1)
    st = adgate_session.stats
    assert st.retries == retried
    assert st.retries_skipped == len(failed)
    assert st.errors_by_type == {"ServerError": len(failed)}
    assert st.as_dict()["retries_skipped"] == len(failed)


async def test_later_retries_of_a_user_also_spend_the_budget(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    ids = [f"u{i}" for i in range(USERS)]
    storm(adgate_server, ids, 500, 503, 502)  # three failures, then the answer (max_retries=3)

    results = await adgate_session.gather_users(ids)

    assert adgate_server.total_requests <= USERS + RETRY_BUDGET_MIN + RETRY_BUDGET_RATIO * USERS
    assert adgate_session.stats.retries == adgate_server.total_requests - USERS
    for r in results:
        if not r.ok:
            assert isinstance(r.error, ServerError)
            assert 1 <= r.error.attempts <= 3


async def test_without_a_budget_every_user_is_retried(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    ids = [f"u{i}" for i in range(USERS)]
    storm(adgate_server, ids, 500)

    results = await adgate_session.gather_users(ids, retry_budget=None)

    assert all(r.ok for r in results)
    assert adgate_server.total_requests == 2 * USERS
    assert (adgate_session.stats.retries, adgate_session.stats.retries_skipped) == (USERS, 0)


async def test_a_ten_percent_error_rate_is_retried_in_full() -> None:
    faults = Faults(error_rate=0.1, seed=11)
    async with StandInServer(faults=faults) as adgate_server, make_session(
        **adgate_server.session_urls()
    ) as s:
        ids = [f"u{i}" for i in range(USERS)]
        results = await s.gather_users(ids)  # the default budget

        assert all(r.ok for r in results)
        assert adgate_server.fault_counts["error"] >= 50  # the faults did happen
        assert s.stats.retries == adgate_server.fault_counts["error"]
        assert s.stats.retries_skipped == 0
        assert adgate_server.total_requests == USERS + s.stats.retries


async def test_each_batch_has_its_own_budget_and_single_calls_none(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    ids = [f"u{i}" for i in range(300)]
    storm(adgate_server, ids, 500)
    first = await adgate_session.gather_users(ids, retry_budget=0.0)  # the minimum only
    assert sum(r.ok for r in first) == RETRY_BUDGET_MIN
    skipped = adgate_session.stats.retries_skipped
    assert skipped == 300 - RETRY_BUDGET_MIN

    # A single call after the spent batch: retried as before, up to max_retries.
    adgate_server.script("single", Answer.error(500), Answer.error(503), Answer.error(502))
    history = await adgate_session.get_history("single")
    assert history is not None
    assert adgate_server.count("single") == 4
    adgate_server.script("single-p", Answer.error(500), Answer.error(500), endpoint="personalized")
    await adgate_session.get_personalized("single-p", numoffers=2)
    assert adgate_server.count("single-p") == 3

    # A new batch starts with a fresh budget.
    again = [f"v{i}" for i in range(5)]
    storm(adgate_server, again, 500, 500)
    assert all(r.ok for r in await adgate_session.gather_users(again, retry_budget=0.0))
    assert adgate_session.stats.retries_skipped == skipped


@pytest.mark.parametrize(
    "bad", [-0.1, 1.01, 2, math.nan, math.inf, -math.inf, True, "0.2", [0.2]]
)
@pytest.mark.parametrize(
    "kind", ["gather_users", "iter_users", "gather_personalized", "iter_personalized"]
)
async def test_bad_budgets_are_refused_before_any_request(
    adgate_server: StandInServer, adgate_session: AsyncSession, kind: str, bad: object
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        await run_batch(adgate_session, kind, ["u1"], retry_budget=bad)
    assert info.value.param == "retry_budget"
    assert "from 0 to 1" in str(info.value)
    assert adgate_server.total_requests == 0


@pytest.mark.parametrize("good", [0, 0.0, 0.5, 1, 1.0, None])
async def test_edge_budgets_are_accepted(
    adgate_server: StandInServer, adgate_session: AsyncSession, good: float | None
) -> None:
    results = await adgate_session.gather_users(["u1", "u2"], retry_budget=good)
    assert all(r.ok for r in results)


def test_budget_arithmetic() -> None:
    skips: list[None] = []
    budget = RetryBudget(0.2, on_skip=lambda: skips.append(None))
    assert [budget.take() for _ in range(RETRY_BUDGET_MIN)] == [True] * RETRY_BUDGET_MIN
    assert not budget.take()
    budget.started += 4  # 0.8 of a retry: not yet one
    assert not budget.take()
    budget.started += 1  # five first attempts earn one retry
    assert budget.take()
    assert not budget.take()
    assert (len(skips), budget.skipped) == (3, 3)
    # A long healthy run saves up no more than the cap.
    budget.started += 1_000_000
    granted = 0
    while budget.take():
        granted += 1
    assert granted == int(RETRY_BUDGET_MAX_BALANCE)
    # Rounding never costs a retry that was earned: 0.1 * 10 is one.
    tenth = RetryBudget(0.1, on_skip=lambda: None, minimum=0)
    tenth.started = 10
    assert tenth.take()
    assert not tenth.take()
