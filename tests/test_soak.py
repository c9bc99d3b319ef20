"""Soak: 10,000 users through gather_users against a server that misbehaves at random.

Run alone, with several seeds:  ADGATE_SOAK_SEEDS=1,2,3,4,5 .venv/bin/python -m pytest
tests/test_soak.py -q  (the default is one seed, so the suite stays quick).
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
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


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("seed", SEEDS)
async def test_soak(seed: int) -> None:
    started = time.monotonic()
    fds_before = open_fds()
    faults = Faults(error_rate=0.10, reset_rate=0.02, timeout_rate=0.01, rate_limit_rate=0.005,
                    retry_after=0.05, slow_body_rate=0.01, chunk_delay=0.005,
                    ban_pattern=r"37$", ip_ban_pattern=r"99$", seed=seed)
    ids = [f"soak-{i:05d}" for i in range(USERS)]
    async with StandInServer(faults=faults) as server:
        session = make_session(timeout=0.3, max_retries=3, **server.session_urls())
        async with session:
            connector = session._http().connector
            assert connector is not None
            results = await session.gather_users(ids, concurrency=64)
        assert connector.closed
        assert package_tasks() == []
    # Exactly one result per user, in input order.
    assert len(results) == USERS
    assert [r.user_id for r in results] == ids

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
            assert seen[-1].fault in (None, "slow_body"), (result.user_id, seen[-1].fault)
            continue
        failed += 1
        # Every error is typed and explained by the fault injected into the last request.
        last = seen[-1].fault
        assert last in EXPECTED, (result.user_id, last, result.error)
        assert isinstance(result.error, EXPECTED[last]), (result.user_id, last, result.error)
        if last == "reset" or last == "truncate":
            assert not isinstance(result.error, APITimeoutError)
        if last in ("ban", "ip_ban"):
            assert len(seen) == 1, f"ban of {result.user_id} was retried"
        else:  # retries exhausted: every attempt got a fault
            assert all(r.fault not in (None, "slow_body") for r in seen), result.user_id
            assert len(seen) >= result.error.attempts  # type: ignore[attr-defined]
    banned = sum(1 for i in ids if i.endswith(("37", "99")))
    assert failed >= banned
    assert server.fault_counts["error"] > 0
    assert server.fault_counts["reset"] > 0
    assert server.fault_counts["timeout"] > 0
    assert server.fault_counts["rate_limit"] > 0
    # Nothing leaks: once closed, the sockets are gone.
    for _ in range(50):
        gc.collect()
        if open_fds() <= fds_before:
            break
        await asyncio.sleep(0.02)
    assert open_fds() == fds_before
    assert time.monotonic() - started < 60
