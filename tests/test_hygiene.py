"""Hygiene: the key never shows on any error path (cancellation and bulk included), it goes
to the AdGate host only, a session keeps to one event loop, and the CLI never prints it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import pickle
import traceback
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import aiohttp
import pytest

import adgate_async
from adgate_async import (
    AdGateError,
    APIStatusError,
    AsyncSession,
    InvalidParameterError,
)
from adgate_async.testing import Answer, StandInServer

from ._support import AFF_ID, API_KEY, WALL_CODE, WALL_ID, free_port, make_session, wait_until
from .test_cli import run_cli
from .test_secrets import FORMS, assert_clean, assert_error_clean, chain

# ----------------------------------------------------------------------------- helpers


def assert_walk_clean(exc: BaseException) -> None:
    """Like ``assert_error_clean`` but allows a (clean) suppressed context, as validation
    errors raised ``from None`` inside an ``except`` keep one."""
    assert_clean("".join(traceback.format_exception(exc)))
    for item in chain(exc):
        assert_clean(str(item))
        assert_clean(repr(item))
        assert_clean(repr(vars(item)) if hasattr(item, "__dict__") else "")
        assert_clean(repr(item.args))


def assert_pickle_clean(exc: BaseException) -> None:
    """What crosses a process boundary (a bulk result sent to a worker pool) is clean too."""
    assert_clean(pickle.dumps(exc).decode("latin-1"))


def assert_logs_clean(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert_clean(record.getMessage())
        assert_clean(repr(vars(record)))
        if record.exc_info:
            assert_clean("".join(traceback.format_exception(*record.exc_info)))
    assert_clean(caplog.text)


def assert_session_clean(s: AsyncSession) -> None:
    assert_clean(repr(s))
    assert_clean(str(s))
    assert_clean(repr(s.stats))
    assert_clean(repr(s.stats.as_dict()))
    assert_clean(json.dumps(s.stats.as_dict()))


def echo_headers() -> dict[str, str]:
    """Response headers that echo the key in every spelling (a misbehaving proxy)."""
    return {
        "X-Echo-Raw": API_KEY,
        "X-Echo-Url": f"/v1/user-based-api/history?api_key={quote(API_KEY, safe='')}",
        "X-Echo-Form": f"api_key={quote_plus(API_KEY)}",
    }


def echoing(status: int, *, retry_after: str | None = None) -> Answer:
    """A vendor-shaped error whose message and headers both echo the key."""
    body = Answer.error(status, code=f"E{status}", message=f"bad api_key {API_KEY}").body
    headers = echo_headers()
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return Answer(status=status, body=body, headers=headers)


# ------------------------------------------------ 1. every error path, the key never shows


@dataclass(frozen=True)
class Fault:
    scripted: tuple[Answer, ...] = ()
    always: Answer | None = None
    error: str = ""
    attempts: int = 1
    session: Mapping[str, Any] = field(default_factory=dict)


FAULTS: dict[str, Fault] = {
    "400 echoing the key": Fault(always=echoing(400), error="BadRequestError"),
    "403 user ban": Fault(always=Answer.ban("USER_BANNED"), error="UserBannedError"),
    "403 ip ban": Fault(always=Answer.ban("IP_BANNED"), error="IPBannedError"),
    "404 echoing the key": Fault(always=echoing(404), error="NotFoundError"),
    "429 beyond the Retry-After cap": Fault(
        always=echoing(429, retry_after="500"), error="RateLimitError"
    ),
    "500 until retries run out": Fault(always=echoing(500), error="ServerError", attempts=3),
    "reset until retries run out": Fault(always=Answer.drop(), error="TransportError",
                                         attempts=3),
    "truncated until retries run out": Fault(
        always=Answer.truncated(), error="TransportError", attempts=3
    ),
    "mixed faults, then retries run out": Fault(
        scripted=(Answer.truncated(), echoing(500)), always=echoing(503),
        error="ServerError", attempts=3,
    ),
    "bad json holding the key": Fault(
        always=Answer.ok(body=b'{"data": [{"offer_id": "' + API_KEY.encode()),
        error="DecodeError",
    ),
    "wrong shape holding the key": Fault(
        always=Answer.ok(body=f'{{"data": "{API_KEY}", "{quote(API_KEY)}": 1}}'.encode()),
        error="DecodeError",
    ),
    "timeout until retries run out": Fault(
        always=Answer.hang(), error="APITimeoutError", attempts=2,
        session={"timeout": 0.2, "max_retries": 1},
    ),
}


@pytest.mark.parametrize("name", list(FAULTS))
async def test_every_request_error_is_clean(
    server: StandInServer, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, aiohttp's included
    fault = FAULTS[name]
    server.script("u", *fault.scripted)
    if fault.always is not None:
        server.always("u", fault.always)
    kwargs: dict[str, Any] = {"max_retries": 2, **fault.session}
    async with make_session(**kwargs, **server.session_urls()) as s:
        with pytest.raises(AdGateError) as info:
            await s.get_history("u")
        if fault.error == "DecodeError":  # the raw call does not decode: parse() does
            raw = await s.with_raw_response.get_history("u")
            assert_clean(repr(raw))
            assert_clean(raw.url)
            with pytest.raises(AdGateError) as raw_info:
                raw.parse()
        else:
            with pytest.raises(AdGateError) as raw_info:
                await s.with_raw_response.get_history("u")
        assert_session_clean(s)
        assert s.stats.failures == (1 if fault.error == "DecodeError" else 2)
    err = info.value
    # The fault really happened, as many times as the policy allows.
    assert type(err).__name__ == fault.error
    assert type(raw_info.value) is type(err)
    assert err.attempts == fault.attempts  # type: ignore[attr-defined]
    # At least one request per attempt (aiohttp itself resends a GET once after a reset).
    assert server.count("u") >= 2 * fault.attempts
    assert "api_key=***" in err.url  # type: ignore[attr-defined]
    for exc in (err, raw_info.value):
        assert_error_clean(exc)
        assert_pickle_clean(exc)
    if isinstance(err, APIStatusError):
        assert_clean(repr(err.headers))
        assert_clean(err.body.decode(errors="replace"))
    if hasattr(err, "body"):
        assert_clean(err.body.decode("latin-1"))
    assert any("api_key=***" in r.getMessage() for r in caplog.records)
    assert_logs_clean(caplog)


async def test_retries_by_reason_record_each_fault(server: StandInServer) -> None:
    """The mixed scenario above really went through three kinds of fault."""
    server.script("u", Answer.truncated(), echoing(500))
    server.always("u", echoing(503))
    async with make_session(max_retries=2, **server.session_urls()) as s:
        with pytest.raises(AdGateError) as info:
            await s.get_history("u")
        assert s.stats.retries_by_reason == {"transport": 1, "http_500": 1}
        assert s.stats.attempts == 3
        assert_session_clean(s)
    assert isinstance(info.value, APIStatusError)
    assert info.value.status == 503


async def test_connection_refused_is_clean_for_both_endpoints(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    base = f"http://127.0.0.1:{free_port()}"
    async with make_session(adgate_base_url=base, revu_base_url=base, max_retries=1) as s:
        with pytest.raises(AdGateError) as history:
            await s.get_history("u")
        with pytest.raises(AdGateError) as personalized:
            await s.get_personalized("u", numoffers=3)
        assert_session_clean(s)
        assert s.stats.retries_by_reason == {"transport": 2}
    for exc in (history.value, personalized.value):
        assert type(exc).__name__ == "TransportError"
        assert exc.attempts == 2  # type: ignore[attr-defined]
        assert_error_clean(exc)
        assert_pickle_clean(exc)
    assert_logs_clean(caplog)


_BAD_CALLS: dict[str, Callable[[AsyncSession], Awaitable[object]]] = {
    "history: empty user id": lambda s: s.get_history(""),
    "history: user id not a str": lambda s: s.get_history(12345),  # type: ignore[arg-type]
    "history: user id too long": lambda s: s.get_history("x" * 300),
    "history: lone surrogate": lambda s: s.get_history("u\udcff"),
    "history: empty lang": lambda s: s.get_history("u", lang=""),
    "history: bad offer id": lambda s: s.get_history("u", offer_ids=[0]),
    "raw history: empty user id": lambda s: s.with_raw_response.get_history(""),
    "personalized: numoffers 0": lambda s: s.get_personalized("u", numoffers=0),
    "personalized: numoffers 501": lambda s: s.get_personalized("u", numoffers=501),
    "personalized: non-ascii uid": lambda s: s.get_personalized("é", numoffers=1),
    "personalized: device mobile": lambda s: s.get_personalized(
        "u", numoffers=1, device="mobile"
    ),
    "personalized: bad ip": lambda s: s.get_personalized("u", numoffers=1, ip="1.2.3"),
    "personalized: bad bid floor": lambda s: s.get_personalized(
        "u", numoffers=1, bid_floor=float("nan")
    ),
    "gather: bad concurrency": lambda s: s.gather_users(["u"], concurrency=0),
    "gather: ids as one str": lambda s: s.gather_users("u1"),
}


@pytest.mark.parametrize("name", list(_BAD_CALLS))
async def test_validation_errors_are_clean_and_send_nothing(
    server: StandInServer, session: AsyncSession, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InvalidParameterError) as info:
        await _BAD_CALLS[name](session)
    assert_walk_clean(info.value)
    assert_pickle_clean(info.value)
    assert_session_clean(session)
    assert_logs_clean(caplog)
    assert server.count() == 0


_BAD_SESSIONS: dict[str, dict[str, Any]] = {
    "empty api_key": {"api_key": ""},
    "api_key as bytes": {"api_key": API_KEY.encode()},
    "api_key as a list": {"api_key": [API_KEY]},
    "bad aff_id": {"aff_id": 0},
    "empty wall_code": {"wall_code": ""},
    "http to a public host": {"adgate_base_url": "http://api.adgatemedia.com"},
    "not http at all": {"revu_base_url": "ftp://127.0.0.1"},
    "zero timeout": {"timeout": 0},
    "negative retries": {"max_retries": -1},
    "zero connections": {"max_connections": 0},
    "not an aiohttp session": {"session": object()},
}


@pytest.mark.parametrize("name", list(_BAD_SESSIONS))
def test_constructor_errors_are_clean(name: str) -> None:
    with pytest.raises((InvalidParameterError, TypeError)) as info:
        make_session(**_BAD_SESSIONS[name])
    assert_walk_clean(info.value)
    assert_pickle_clean(info.value)


@pytest.mark.parametrize(
    "base_url",
    [
        pytest.param(f"https://api.adgatemedia.com/?api_key={API_KEY}", id="key in query"),
        pytest.param(f"https://api.adgatemedia.com/?api_key={quote(API_KEY, safe='')}",
                     id="encoded key in query"),
        pytest.param(f"https://{AFF_ID}:{quote(API_KEY, safe='')}@api.adgatemedia.com",
                     id="key as URL password"),
    ],
)
def test_a_base_url_carrying_the_key_is_refused_without_echoing_it(base_url: str) -> None:
    """A caller pasting a full vendor URL (key included) as the base URL gets an error that
    names the rule, not one that prints the key it already holds."""
    with pytest.raises(InvalidParameterError) as info:
        make_session(adgate_base_url=base_url)
    assert info.value.param == "adgate_base_url"
    assert_walk_clean(info.value)


async def test_cancelling_a_hung_request_is_clean(
    server: StandInServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.script("u", Answer.hang())
    async with make_session(timeout=10, **server.session_urls()) as s:
        task = asyncio.create_task(s.get_history("u"))
        await wait_until(lambda: server.in_flight == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
        text = "".join(traceback.format_exception(info.value))
        assert "_transport.py" in text  # the inner traceback, down into the request
        assert_clean(text)
        assert_walk_clean(info.value)
        assert_clean(repr(task))
        assert_session_clean(s)
        assert s.stats.successes == 0
        # The cancelled attempt left nothing behind: the next call on the pool works.
        history = await s.get_history("u")
        assert len(history.data) == 3
    assert server.count("u") == 2
    assert_logs_clean(caplog)


async def test_cancelling_a_request_sleeping_in_backoff_is_clean(
    server: StandInServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.always("u", echoing(500))
    async with make_session(retry_backoff=30, retry_backoff_max=30,
                            **server.session_urls()) as s:
        task = asyncio.create_task(s.get_history("u"))
        await wait_until(lambda: s.stats.retries == 1)  # told of the sleep: now in it
        assert server.count("u") == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
        text = "".join(traceback.format_exception(info.value))
        assert "_retry.py" in text  # cancelled inside the retry loop's sleep
        assert_clean(text)
        assert_walk_clean(info.value)
        assert_clean(repr(task))
        assert_session_clean(s)
    assert server.count("u") == 1  # no attempt after the cancellation
    assert any("retrying GET" in r.getMessage() for r in caplog.records)
    assert_logs_clean(caplog)


_BULK_FAULTS: dict[str, tuple[Answer | None, str | None]] = {
    "ok": (None, None),
    "s400": (echoing(400), "BadRequestError"),
    "ban": (Answer.ban("USER_BANNED"), "UserBannedError"),
    "s404": (echoing(404), "NotFoundError"),
    "s429": (echoing(429, retry_after="500"), "RateLimitError"),
    "s500": (echoing(500), "ServerError"),
    "reset": (Answer.drop(), "TransportError"),
    "truncated": (Answer.truncated(), "TransportError"),
    "badjson": (Answer.ok(body=b'{"data": "' + API_KEY.encode()), "DecodeError"),
    "shape": (Answer.ok(body=f'{{"data": "{API_KEY}"}}'.encode()), "DecodeError"),
    "hang": (Answer.hang(), "APITimeoutError"),
    "redirect": (Answer(status=302, body=b"", headers={
        "Location": f"https://evil.test/?api_key={quote_plus(API_KEY)}"}), "APIStatusError"),
    "": (None, "InvalidParameterError"),
    "x" * 300: (None, "InvalidParameterError"),
    "u\udcff": (None, "InvalidParameterError"),
}


async def test_bulk_results_over_mixed_faults_are_clean(
    server: StandInServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The 429 asks for 500 s: that user fails at once, and the batch's shared pause (capped
    # at 60 s in production) is cut to 0.1 s here to keep the test quick.
    monkeypatch.setattr(adgate_async._config, "RETRY_AFTER_CAP", 0.1)
    caplog.set_level(logging.DEBUG)
    for user_id, (answer, _) in _BULK_FAULTS.items():
        if answer is not None:
            server.always(user_id, answer)
    ids = list(_BULK_FAULTS)
    progress: list[tuple[int, int | None, int]] = []

    async def collect(s: AsyncSession) -> list[Any]:
        async with contextlib.aclosing(s.iter_users(iter(ids), ordered=True)) as results:
            return [r async for r in results]

    async with make_session(timeout=0.2, max_retries=1, **server.session_urls()) as s:
        gathered, iterated = await asyncio.gather(
            s.gather_users(ids, on_progress=lambda *a: progress.append(a)), collect(s)
        )
        assert_session_clean(s)
    assert progress[-1] == (len(ids), len(ids), len(ids) - 1)
    for results in (gathered, iterated):
        assert [r.user_id for r in results] == ids
        seen = {r.user_id: None if r.error is None else type(r.error).__name__
                for r in results}
        assert seen == {user_id: kind for user_id, (_, kind) in _BULK_FAULTS.items()}
        for result in results:
            assert_clean(repr(result))
            assert_clean(str(result))
            if result.error is not None:
                assert_walk_clean(result.error)
                assert_pickle_clean(result.error)
                if not isinstance(result.error, InvalidParameterError):
                    assert_error_clean(result.error)
    assert_logs_clean(caplog)


# ------------------------------------------------------- 2. the key goes to AdGate only


def _text_of(request: Any) -> str:
    return " ".join([request.path, repr(dict(request.query)), repr(dict(request.headers))])


def _assert_request_clean_outside_api_key(request: Any) -> None:
    assert_clean(request.path)
    for name, value in request.headers.items():
        assert_clean(name)
        assert_clean(value)
    for name, value in request.query.items():
        assert_clean(name)
        if name != "api_key":
            assert_clean(value)


async def test_the_key_reaches_adgate_only_and_only_as_api_key() -> None:
    async with (
        StandInServer() as adgate,
        StandInServer() as revu,
        make_session(adgate_base_url=adgate.url, revu_base_url=revu.url) as s,
    ):
        await s.get_history("u1")
        await s.get_history("u2", lang="en-US,en;q=0.5", continue_playing=True,
                            offer_ids=[1477425, 148199])
        await s.with_raw_response.get_history("u3")
        await s.gather_users(["u4", "u5"])
        await s.get_personalized("p1", numoffers=2)
        await s.get_personalized("p2", numoffers=5, sid3="s", device="ios",
                                 ip="203.0.113.7", os_version=17.1, include_sortmetric=True,
                                 bid_floor=0.5, experiment_id="exp")
        await s.with_raw_response.get_personalized("p3", numoffers=1)
    assert [r.endpoint for r in adgate.requests] == ["history"] * 5
    assert [r.endpoint for r in revu.requests] == ["personalized"] * 3
    for request in revu.requests:
        assert "api_key" not in request.query
        assert_clean(_text_of(request))
    for request in adgate.requests:
        assert request.query["api_key"] == API_KEY  # sent, and decoded back exactly
        _assert_request_clean_outside_api_key(request)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("form", ["raw", "quote", "quote_plus"])
async def test_a_redirect_to_another_host_is_not_followed(
    status: int, form: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    encoded = {"raw": API_KEY, "quote": quote(API_KEY, safe=""),
               "quote_plus": quote_plus(API_KEY)}[form]
    async with StandInServer() as adgate, StandInServer() as revu:
        # A path the RevU stand-in records, so a followed redirect would show up there.
        location = (f"{revu.url}/v1/user-based-api/history?aff_id={AFF_ID}"
                    f"&wall_code={WALL_CODE}&user_id=steal&api_key={encoded}")
        adgate.always("u", Answer(status=status, body=b"", headers={"Location": location}))
        async with make_session(adgate_base_url=adgate.url, revu_base_url=revu.url) as s:
            with pytest.raises(APIStatusError) as info:
                await s.get_history("u")
        assert revu.count() == 0
        assert adgate.count("u") == 1  # a 3xx is not retried either
        err = info.value
        assert type(err) is APIStatusError
        assert err.status == status
        assert err.url.startswith(adgate.url)
        assert "api_key=***" in err.url
        assert err.headers["Location"].endswith("api_key=***")
        assert "unexpected redirect to" in str(err)
        assert_clean(str(err))
        assert_clean(repr(err.headers))
        assert_error_clean(err)
        assert_logs_clean(caplog)

        # Control: a client that follows redirects does reach the RevU stand-in, key and all.
        async with aiohttp.ClientSession() as client, client.get(
            adgate.url + "/v1/user-based-api/history",
            params={"aff_id": AFF_ID, "api_key": "k", "wall_code": WALL_CODE,
                    "user_id": "u"},
        ) as resp:
            await resp.read()
        assert revu.count("steal") == 1


# -------------------------------------------------------------- 3. event-loop hygiene

Call = Callable[[AsyncSession], Awaitable[object]]


async def _iterate(s: AsyncSession) -> None:
    async with contextlib.aclosing(s.iter_users(["u1", "u2"])) as results:
        async for _ in results:
            pass


CALLS: dict[str, Call] = {
    "get_history": lambda s: s.get_history("u"),
    "get_personalized": lambda s: s.get_personalized("u", numoffers=2),
    "raw get_history": lambda s: s.with_raw_response.get_history("u"),
    "raw get_personalized": lambda s: s.with_raw_response.get_personalized("u", numoffers=2),
    "gather_users": lambda s: s.gather_users(["u1", "u2"]),
    "iter_users": _iterate,
}


def test_built_outside_a_loop_then_used_in_asyncio_run_closes_cleanly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    async def use(s: AsyncSession) -> tuple[int, int]:
        async with StandInServer(port=port) as server:
            history = await s.get_history("u")
            offers = await s.get_personalized("u", numoffers=4)
            results = await s.gather_users(["a", "b"])
            await s.aclose()
            return len(history.data) + len(offers.offers) + len(results), server.count()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = make_session(adgate_base_url=base, revu_base_url=base)  # no loop running here
        assert asyncio.run(use(s)) == (3 + 4 + 2, 4)
        assert s.closed
        del s
        gc.collect()
    assert [str(w.message) for w in caught] == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("name", list(CALLS))
def test_a_session_bound_to_one_loop_refuses_another_before_sending(name: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    s = make_session(adgate_base_url=base, revu_base_url=base)

    async def from_another_loop() -> None:
        async with StandInServer(port=port) as server:
            with pytest.raises(RuntimeError, match="event loop") as info:
                await CALLS[name](s)
            assert_walk_clean(info.value)
            assert server.count() == 0
            assert s.stats.attempts == 0
            # Control: the same call from a session of this loop does reach the server.
            async with make_session(adgate_base_url=base, revu_base_url=base) as fresh:
                await CALLS[name](fresh)
            assert server.count() > 0

    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(s.__aenter__())  # the pool is created in `first`
        asyncio.run(from_another_loop())
        assert not s.closed
        first.run_until_complete(s.aclose())
    finally:
        first.close()
    assert s.closed


@pytest.mark.parametrize("name", list(CALLS))
async def test_calls_after_aclose_raise_and_send_nothing(
    server: StandInServer, session: AsyncSession, name: str
) -> None:
    await CALLS[name](session)  # the session works until it is closed
    sent = server.count()
    assert sent > 0
    await session.aclose()
    with pytest.raises(RuntimeError, match="closed") as info:
        await CALLS[name](session)
    assert_walk_clean(info.value)
    assert server.count() == sent


# ------------------------------------------------------------------ 4. the command line


def _cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADGATE_", "REVU_"))}
    env.update(ADGATE_AFF_ID=str(AFF_ID), ADGATE_API_KEY=API_KEY, ADGATE_WALL_CODE=WALL_CODE,
               REVU_WALL_ID=str(WALL_ID))
    return env


async def _run_cli(*args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    return await run_cli(*args, env=_cli_env(), stdin=stdin)


def _urls(base: str) -> list[str]:
    return ["--adgate-base-url", base, "--revu-base-url", base]


def _assert_output_clean(*texts: str) -> None:
    for text in texts:
        for form in FORMS:
            assert form not in text, f"API key leaked on the command line: {text!r}"


async def test_cli_history_500_then_reset_never_prints_the_key(server: StandInServer) -> None:
    server.script("u", echoing(500))
    server.always("u", Answer.drop())
    rc, stdout, stderr = await _run_cli("history", "u", "-v", "--max-retries", "1",
                                        *_urls(server.url))
    assert rc == 1, stderr
    assert server.count("u") >= 2
    assert "adgate-async: TransportError:" in stderr
    assert " -> 500 in " in stderr  # the DEBUG line of the first attempt was printed
    assert "api_key=***" in stderr
    assert stdout == ""
    _assert_output_clean(stdout, stderr)


async def test_cli_history_refused_never_prints_the_key() -> None:
    rc, stdout, stderr = await _run_cli("history", "u", "-v", "--max-retries", "1",
                                        *_urls(f"http://127.0.0.1:{free_port()}"))
    assert rc == 1, stderr
    assert "adgate-async: TransportError:" in stderr
    assert "retrying GET" in stderr
    assert "api_key=***" in stderr
    _assert_output_clean(stdout, stderr)


async def test_cli_bulk_with_progress_and_verbose_never_prints_the_key(
    server: StandInServer,
) -> None:
    server.always("s400", echoing(400))
    server.always("s500", echoing(500))
    server.always("reset", Answer.drop())
    server.always("ban", Answer.ban("USER_BANNED"))
    server.always("redirect", Answer(status=302, body=b"", headers={
        "Location": f"https://evil.test/?api_key={quote(API_KEY, safe='')}"}))
    server.always("shape", Answer.ok(body=f'{{"data": "{API_KEY}"}}'.encode()))
    ids = ["ok", "s400", "s500", "reset", "ban", "redirect", "shape"]
    rc, stdout, stderr = await _run_cli(
        "bulk", "-", "--progress", "-v", "--ordered", "--max-retries", "1",
        *_urls(server.url), stdin="\n".join(ids).encode() + b"\n",
    )
    assert rc == 1, stderr
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [line["user_id"] for line in lines] == ids
    assert [line.get("error", {}).get("type") for line in lines] == [
        None, "BadRequestError", "ServerError", "TransportError", "UserBannedError",
        "APIStatusError", "DecodeError",
    ]
    assert "user/s" in stderr  # the tqdm bar
    assert "api_key=***" in stderr  # the DEBUG lines, redacted
    assert "users 7  ok 1  errors 6" in stderr
    _assert_output_clean(stdout, stderr)
