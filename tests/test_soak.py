"""Soak: 10,000 users through gather_users against a server that misbehaves at random.

Run alone, with several seeds:  ADGATE_SOAK_SEEDS=1,2,3,4,5 .venv/bin/python -m pytest
tests/test_soak.py -q  (the default is one seed, so the suite stays quick).

Nothing here depends on how fast the machine is. The client's timeout is generous (no honest
answer comes near it, even on a loaded machine), and a "timeout" fault is a hang far longer
than it, so a request times out exactly when the server chose to hang it. There are few
hangs, each costing one timeout in one of the 64 slots. Every request's fate is read from
what the server recorded, not from the clock.

One thing the server sees that the client does not count: when a pooled keep-alive connection
is dropped under a request (a "reset" fault), aiohttp silently sends that request once more on
a fresh connection. So the server may see up to one request more per reset than the client
made attempts; the accounting below allows exactly that and nothing else.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections import defaultdict

import pytest

from adgate_async import (
    AdGateError,
    APITimeoutError,
    IPBannedError,
    RateLimitError,
    ServerError,
    TransportError,
    UserBannedError,
)
from adgate_async.testing import Faults, RecordedRequest, StandInServer

from ._support import make_session, package_tasks

USERS = 10_000
#: Far above any honest answer's latency on a loaded machine; far below a hang (an hour).
TIMEOUT = 5.0
MAX_RETRIES = 3
#: Only to turn a real hang into a failure instead of a stuck run (a run takes ~10 s idle,
#: up to ~100 s seen on a saturated 2-core machine).
HANG_GUARD = 600.0
SEEDS = [int(s) for s in os.environ.get("ADGATE_SOAK_SEEDS", "20261123").split(",")]

#: The error a user must end with when its last request got this fault.
EXPECTED: dict[str, type[AdGateError]] = {
    "ban": UserBannedError,
    "ip_ban": IPBannedError,
    "error": ServerError,
    "rate_limit": RateLimitError,
    "reset": TransportError,
    "truncate": TransportError,
    "timeout": APITimeoutError,
}


#: The faults a client retries (every one but the bans).
RETRIED = frozenset(EXPECTED) - {"ban", "ip_ban"}


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("seed", SEEDS)
async def test_soak(seed: int) -> None:
    fds_before = open_fds()
    faults = Faults(error_rate=0.10, reset_rate=0.02, timeout_rate=0.001,
                    rate_limit_rate=0.005, retry_after=0.05, slow_body_rate=0.01,
                    chunk_delay=0.005, ban_pattern=r"37$", ip_ban_pattern=r"99$", seed=seed)
    assert faults.hang_seconds > 100 * TIMEOUT
    ids = [f"soak-{i:05d}" for i in range(USERS)]
    async with StandInServer(faults=faults) as server:
        session = make_session(timeout=TIMEOUT, max_retries=MAX_RETRIES, **server.session_urls())
        async with session:
            connector = session._pool.client().connector
            assert connector is not None
            async with asyncio.timeout(HANG_GUARD):
                results = await session.gather_users(ids, concurrency=64)
            client_attempts = session.stats.attempts
        assert connector.closed
        assert package_tasks() == []
    # Exactly one result per user, in input order.
    assert len(results) == USERS
    assert [r.user_id for r in results] == ids

    # Every request the server saw was an attempt of the client, or aiohttp's one silent
    # resend after a connection dropped under it (a reset).
    resends = len(server.requests) - client_attempts
    assert 0 <= resends <= server.fault_counts.get("reset", 0), (resends, client_attempts)

    by_user: dict[str, list[RecordedRequest]] = defaultdict(list)
    for request in server.requests:
        by_user[request.user_id].append(request)
    failed = 0
    for result in results:
        seen = by_user[result.user_id]
        assert seen, f"{result.user_id} never reached the server"
        if result.error is None:
            assert result.history is not None
            assert len(result.history.data) == 3
            # The last request got a good answer, and every earlier one a retryable fault.
            assert seen[-1].fault in (None, "slow_body"), (result.user_id, seen[-1].fault)
            assert all(r.fault in RETRIED for r in seen[:-1]), (result.user_id, seen)
            continue
        failed += 1
        # Every error is typed and explained by the fault injected into the last request.
        last = seen[-1].fault
        error = result.error
        assert last in EXPECTED, (result.user_id, last, error)
        assert isinstance(error, EXPECTED[last]), (result.user_id, last, error)
        if last == "reset" or last == "truncate":
            assert not isinstance(error, APITimeoutError)
        attempts = error.attempts  # type: ignore[attr-defined]
        resent = sum(1 for r in seen if r.fault == "reset")
        if last in ("ban", "ip_ban"):
            # A ban is final: one attempt, one request at the server.
            assert attempts == 1, f"ban of {result.user_id} was retried ({attempts} attempts)"
            assert len(seen) == 1, f"ban of {result.user_id} reached the server {len(seen)} times"
        else:  # retries exhausted: every attempt got a fault
            assert all(r.fault in RETRIED for r in seen), (result.user_id, seen)
            assert attempts == MAX_RETRIES + 1, (result.user_id, attempts)
            assert attempts <= len(seen) <= attempts + resent, (result.user_id, seen)
    banned = sum(1 for i in ids if i.endswith(("37", "99")))
    assert failed >= banned
    assert server.fault_counts["error"] > 0
    assert server.fault_counts["reset"] > 0
    assert server.fault_counts["timeout"] > 0
    assert server.fault_counts["rate_limit"] > 0
    # Nothing leaks: once closed, the sockets are gone (waiting as long as it takes a loaded
    # machine to finish closing them; the loop ends as soon as they are).
    for _ in range(500):
        gc.collect()
        if open_fds() <= fds_before:
            break
        await asyncio.sleep(0.02)
    assert open_fds() == fds_before
