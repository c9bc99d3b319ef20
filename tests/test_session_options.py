"""``AsyncSession.with_options``: views sharing the pool, stats and lifecycle of their session,
with their own timeout and retry settings (issue 12, item 1)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import aiohttp
import pytest

from adgate_async import APITimeoutError, AsyncSession, DecodeError, ServerError
from adgate_async.testing import Answer, StandInServer

from ._support import API_KEY, HANG, assert_clean, assert_session_clean, make_session, refused
from .test_models_lenient import quoted_personalized


async def test_a_view_times_out_after_one_attempt_while_a_batch_keeps_its_retries(
    adgate_server: StandInServer,
) -> None:
    adgate_server.always("stalls", Answer.hang(120))
    flaky = [f"flaky{i}" for i in range(5)]
    for uid in flaky:  # two 500s, then the normal answer: needs the parent's retries
        adgate_server.script(uid, Answer.error(500), Answer.error(500))
    async with make_session(**adgate_server.session_urls()) as s:  # max_retries=3, 30 s
        view = s.with_options(timeout=0.5, max_retries=0)

        async def handler() -> APITimeoutError:
            with pytest.raises(APITimeoutError) as info:
                await view.get_personalized("stalls", numoffers=5)
            return info.value

        error, results = await asyncio.wait_for(
            asyncio.gather(handler(), s.gather_personalized(flaky, numoffers=5)), HANG)
    assert error.attempts == 1
    assert "0.5 s" in str(error)
    assert adgate_server.count("stalls") == 1
    assert all(r.ok for r in results)
    assert [adgate_server.count(uid) for uid in flaky] == [3] * 5
    assert s.stats.retries == 10  # the batch's, counted on the shared stats
    assert s.stats.requests == 6


async def test_a_view_retries_as_told_and_the_parent_as_before(
    adgate_server: StandInServer,
) -> None:
    adgate_server.always("down", Answer.error(503))
    async with make_session(**adgate_server.session_urls()) as s:
        with pytest.raises(ServerError) as info:
            await asyncio.wait_for(s.with_options(max_retries=1).get_history("down"), HANG)
        assert info.value.attempts == 2
        assert adgate_server.count("down") == 2
        with pytest.raises(ServerError) as info:
            await asyncio.wait_for(s.get_history("down"), HANG)
        assert info.value.attempts == 4


async def test_views_share_the_pool_stats_credentials_and_redactor(
    adgate_server: StandInServer,
) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        view = s.with_options(timeout=5)
        nested = view.with_options(max_retries=0)
        for v in (view, nested):
            assert isinstance(v, AsyncSession)
            assert v._pool is s._pool
            assert v.stats is s.stats
            assert v._redactor is s._redactor
            assert v._history is s._history
        assert nested._settings.timeout_seconds == 5  # a view of a view keeps the first's
        assert nested._settings.max_retries == 0
        assert view._settings.max_retries == 3
        assert s._settings.timeout_seconds == 30  # the parent never changes
        await nested.get_history("u1")
        await view.get_personalized("u1", numoffers=2)
        assert s.stats.successes == 2
        assert adgate_server.requests[0].query["api_key"] == API_KEY


async def test_closing_the_parent_closes_its_views(adgate_server: StandInServer) -> None:
    s = make_session(**adgate_server.session_urls())
    view = s.with_options(max_retries=0).with_options(timeout=1)
    await view.get_history("u1")
    await s.aclose()
    assert view.closed
    for call in (view.get_history("u1"), view.get_personalized("u1", numoffers=1)):
        with pytest.raises(RuntimeError, match="closed"):
            await call
    with pytest.raises(RuntimeError, match="closed"):
        await view.gather_users(["u1"])
    assert adgate_server.count() == 1


async def test_closing_a_view_never_closes_the_pool(adgate_server: StandInServer) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        async with s.with_options(timeout=3) as view:
            await view.get_history("u1")
        await view.aclose()
        assert not view.closed
        assert not s.closed
        await view.get_history("u2")  # still usable: its pool is open
        await s.get_history("u3")
        client = s._pool.client()
        assert not client.closed
    assert view.closed
    assert client.closed


async def test_a_view_of_a_caller_session_keeps_its_timeout_unless_given(
    adgate_server: StandInServer,
) -> None:
    adgate_server.always("stalls", Answer.hang(120))
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http,
        make_session(session=http, **adgate_server.session_urls()) as s,
    ):
        assert s.with_options(max_retries=0)._settings.timeout_seconds == 600
        with pytest.raises(APITimeoutError, match=r"0\.5 s"):
            await asyncio.wait_for(
                s.with_options(timeout=0.5, max_retries=0).get_history("stalls"), HANG)
        assert not http.closed


def test_with_options_without_options_is_the_same_settings() -> None:
    s = make_session()
    view = s.with_options()
    assert view._settings is s._settings
    assert view.with_options(timeout=None)._settings.timeout_seconds is None


_BAD: dict[str, Any] = {
    "timeout": [0, -1, math.nan, math.inf, "5", True],
    "max_retries": [-1, 101, 1.5, "3", None],
    "retry_backoff": [-0.1, math.nan, "1", None],
    "retry_backoff_max": [-1, math.inf, None],
}


@pytest.mark.parametrize(("name", "value"),
                         [(name, value) for name, values in _BAD.items() for value in values])
def test_with_options_checks_like_the_constructor(name: str, value: object) -> None:
    s = make_session()
    exc = refused(name, s.with_options, **{name: value})
    assert_clean(str(exc))


def test_with_options_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        make_session().with_options(5)  # type: ignore[misc]


def test_a_views_repr_says_so_and_hides_the_key() -> None:
    s = make_session()
    view = s.with_options(timeout=2, max_retries=0)
    text = repr(view)
    assert "view" in text
    assert "timeout=2" in text
    assert "max_retries=0" in text
    assert "view" not in repr(s)
    assert_session_clean(view)
    assert "SECRET" not in text


def test_making_a_view_opens_and_compiles_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import adgate_async._redact as redact

    s = make_session()
    compiled: list[object] = []
    real = redact.re.compile
    monkeypatch.setattr(redact.re, "compile", lambda *a: compiled.append(a) or real(*a))
    made: list[object] = []
    monkeypatch.setattr(aiohttp, "ClientSession", lambda *a, **k: made.append(a))
    for _ in range(100):
        s.with_options(timeout=1, max_retries=0, retry_backoff=0, retry_backoff_max=0)
    assert compiled == []
    assert made == []


async def test_a_view_keeps_its_sessions_decoding_and_attempt_hook(
    adgate_server: StandInServer,
) -> None:
    """A view decodes as strictly as its session and reports to its session's hook."""
    # Numbers sent as strings: taken by the lenient decoders, refused by the strict ones.
    adgate_server.always("quoted", Answer.ok(body=quoted_personalized()))
    adgate_server.script("flaky", Answer.error(500))
    seen: list[tuple[str, int, int | None]] = []

    def hook(info: Any) -> None:
        seen.append((info.endpoint, info.attempt, info.status))

    async with make_session(**adgate_server.session_urls(), strict=True,
                            on_attempt=hook) as s:
        view = s.with_options(timeout=5, max_retries=1)
        lenient = make_session(**adgate_server.session_urls()).with_options(timeout=5)
        async with lenient:  # leaving a view's block closes nothing: closed by hand below
            assert (await lenient.get_personalized("quoted", numoffers=1)).offers
        await lenient._pool.close()
        with pytest.raises(DecodeError):
            await asyncio.wait_for(view.get_personalized("quoted", numoffers=1), HANG)
        await asyncio.wait_for(view.get_history("flaky"), HANG)
    assert seen == [("personalized", 1, 200), ("history", 1, 500), ("history", 2, 200)]
