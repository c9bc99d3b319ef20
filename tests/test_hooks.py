"""The ``on_attempt`` hook (issue 12, item 8): one :class:`AttemptInfo` per HTTP attempt,
against the stand-in server: a success, retries, a ban, a timeout, a refused connection, a
batch; never the key or the URL; a hook that raises never breaks a call (one WARNING). And
the README's Prometheus example (examples/metrics_prometheus.py, shown verbatim in the
README) run for real, its histogram read back.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
from pathlib import Path
from types import ModuleType

import msgspec
import pytest

from adgate_async import (
    APITimeoutError,
    AttemptInfo,
    ServerError,
    TransportError,
    UserBannedError,
)
from adgate_async.testing import Answer, StandInServer

from ._support import (
    API_KEY,
    assert_error_clean,
    assert_logs_clean,
    free_port,
    key_leaks,
    make_session,
    refused,
)

ROOT = Path(__file__).resolve().parent.parent


class Recorder:
    def __init__(self) -> None:
        self.infos: list[AttemptInfo] = []

    def __call__(self, info: AttemptInfo) -> None:
        self.infos.append(info)

    def column(self, name: str) -> list[object]:
        return [getattr(info, name) for info in self.infos]

    def assert_clean(self) -> None:
        for info in self.infos:
            for text in (repr(info), str(info), msgspec.json.encode(info).decode()):
                assert not key_leaks(text), text
                assert "http://" not in text  # no URL at all


async def test_a_success_is_one_attempt(adgate_server: StandInServer) -> None:
    hook = Recorder()
    async with make_session(**adgate_server.session_urls(), on_attempt=hook) as s:
        await s.get_history("u1")
        await s.get_personalized("u1", numoffers=2)
    assert hook.column("endpoint") == ["history", "personalized"]
    assert hook.column("attempt") == [1, 1]
    assert hook.column("status") == [200, 200]
    assert hook.column("error") == [None, None]
    assert hook.column("retry_reason") == [None, None]
    assert all(isinstance(t, float) and 0 < t < 60 for t in hook.column("seconds"))
    hook.assert_clean()
    with pytest.raises(AttributeError):
        hook.infos[0].status = 500  # type: ignore[misc]


async def test_retries_are_one_call_each(adgate_server: StandInServer) -> None:
    hook = Recorder()
    adgate_server.script("u", Answer.error(500), Answer.error(500))
    async with make_session(**adgate_server.session_urls(), on_attempt=hook) as s:
        await s.get_history("u")
    assert hook.column("attempt") == [1, 2, 3]
    assert hook.column("status") == [500, 500, 200]
    assert hook.column("error") == ["ServerError", "ServerError", None]
    assert hook.column("retry_reason") == ["http_500", "http_500", None]
    hook.assert_clean()


async def test_retries_exhausted_report_every_attempt(adgate_server: StandInServer) -> None:
    hook = Recorder()
    adgate_server.always("u", Answer.error(503))
    async with make_session(**adgate_server.session_urls(), on_attempt=hook,
                            max_retries=2) as s:
        with pytest.raises(ServerError):
            await s.get_history("u")
    assert hook.column("attempt") == [1, 2, 3]
    assert hook.column("retry_reason") == ["http_503"] * 3  # retryable, though none is left


async def test_a_ban_is_one_attempt_never_retried(adgate_server: StandInServer) -> None:
    hook = Recorder()
    adgate_server.always("u", Answer.ban())
    async with make_session(**adgate_server.session_urls(), on_attempt=hook) as s:
        with pytest.raises(UserBannedError):
            await s.get_history("u")
    assert hook.infos == [AttemptInfo("history", 1, hook.infos[0].seconds, 403,
                                      "UserBannedError", None)]


async def test_a_timeout_has_no_status(adgate_server: StandInServer) -> None:
    hook = Recorder()
    adgate_server.always("u", Answer.hang())
    async with make_session(**adgate_server.session_urls(), on_attempt=hook, timeout=0.5,
                            max_retries=1) as s:
        with pytest.raises(APITimeoutError):
            await s.get_history("u")
    assert hook.column("attempt") == [1, 2]
    assert hook.column("status") == [None, None]
    assert hook.column("error") == ["APITimeoutError"] * 2
    assert hook.column("retry_reason") == ["timeout"] * 2
    assert all(t >= 0.4 for t in hook.column("seconds"))  # the timeout, not less
    hook.assert_clean()


async def test_a_refused_connection_is_a_transport_error() -> None:
    hook = Recorder()
    url = f"http://127.0.0.1:{free_port()}"
    async with make_session(adgate_base_url=url, revu_base_url=url, on_attempt=hook,
                            max_retries=1) as s:
        with pytest.raises(TransportError):
            await s.get_history("u")
    assert hook.column("attempt") == [1, 2]
    assert hook.column("error") == ["TransportError"] * 2
    assert hook.column("retry_reason") == ["transport"] * 2
    hook.assert_clean()


async def test_a_batch_reports_every_attempt(adgate_server: StandInServer) -> None:
    hook = Recorder()
    adgate_server.script("u3", Answer.error(502))
    adgate_server.always("u7", Answer.ban())
    async with make_session(**adgate_server.session_urls(), on_attempt=hook) as s:
        await s.gather_users([f"u{i}" for i in range(30)], concurrency=8)
        await s.gather_personalized([f"p{i}" for i in range(5)], numoffers=1)
    assert len(hook.infos) == adgate_server.count() == 36
    assert sorted(map(str, hook.column("status"))) == sorted(
        ["200"] * 34 + ["502", "403"])
    assert hook.column("endpoint").count("personalized") == 5
    hook.assert_clean()


async def test_a_hook_that_raises_never_breaks_a_call(
    adgate_server: StandInServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="adgate_async")
    calls = 0

    def broken(info: AttemptInfo) -> None:
        nonlocal calls
        calls += 1
        raise ValueError(f"metrics backend down (key {API_KEY})")

    adgate_server.script("u", Answer.error(500))
    adgate_server.always("banned", Answer.ban())
    async with make_session(**adgate_server.session_urls(), on_attempt=broken) as s:
        assert (await s.get_history("u")).data  # a 500 and its retry, both told
        with pytest.raises(UserBannedError) as info:
            await s.get_history("banned")
        await s.get_personalized("u", numoffers=1)
    assert calls == 4
    assert_error_clean(info.value)  # nothing of the hook's error rides along
    hook_records = [r for r in caplog.records if "on_attempt hook raised" in r.getMessage()]
    assert [r.levelname for r in hook_records] == ["WARNING", "DEBUG", "DEBUG", "DEBUG"]
    assert "ValueError: metrics backend down" in hook_records[0].getMessage()
    assert_logs_clean(caplog)


async def test_a_hook_may_return_anything(adgate_server: StandInServer) -> None:
    async with make_session(**adgate_server.session_urls(),
                            on_attempt=lambda info: info.status) as s:
        await s.get_history("u")


def test_on_attempt_is_checked() -> None:
    async def coroutine_function(info: AttemptInfo) -> None:
        pass

    class AsyncCallable:
        async def __call__(self, info: AttemptInfo) -> None:
            pass

    for bad in (42, "print", coroutine_function, AsyncCallable()):
        exc = refused("on_attempt", make_session, on_attempt=bad)
        assert "plain (not async) callable" in str(exc)
    make_session(on_attempt=None), make_session(on_attempt=print)


# ------------------------------------------------------------- the README's example

def load_example() -> ModuleType:
    path = ROOT / "examples" / "metrics_prometheus.py"
    spec = importlib.util.spec_from_file_location("metrics_prometheus_example", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_the_readme_shows_the_example_file_verbatim() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n### Metrics: a Prometheus histogram\n")
    match = re.compile(r"^```python\n(.*?)^```$", re.S | re.M).search(text, start)
    assert match is not None
    assert match.group(1) == (ROOT / "examples" / "metrics_prometheus.py").read_text(
        encoding="utf-8")


async def test_the_prometheus_example_fills_its_histogram(adgate_server: StandInServer) -> None:
    example = load_example()
    adgate_server.script("u2", Answer.error(503))
    adgate_server.always("banned", Answer.ban())
    async with example.make_session(aff_id=60000, api_key=API_KEY, wall_code="nQug",
                                    wall_id=567, retry_backoff=0.001,
                                    **adgate_server.session_urls()) as s:
        await s.gather_users(["u1", "u2", "u3", "banned"])
        await s.get_personalized("u1", numoffers=1)

    def count(endpoint: str, outcome: str) -> float | None:
        value: float | None = example.REGISTRY.get_sample_value(
            "adgate_attempt_seconds_count", {"endpoint": endpoint, "outcome": outcome})
        return value

    assert count("history", "200") == 3
    assert count("history", "503") == 1
    assert count("history", "403") == 1
    assert count("personalized", "200") == 1
    total = example.REGISTRY.get_sample_value(
        "adgate_attempt_seconds_sum", {"endpoint": "history", "outcome": "200"})
    assert total is not None
    assert total > 0
    samples = [s for metric in example.REGISTRY.collect() for s in metric.samples]
    assert not any(key_leaks(repr(s)) for s in samples)
