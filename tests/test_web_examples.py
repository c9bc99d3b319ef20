"""The two web examples (examples/web_aiohttp.py, examples/web_fastapi.py), run for real.

Each app is served on 127.0.0.1 (aiohttp.web through an AppRunner and TCPSite; FastAPI under
a real uvicorn server in its own thread and event loop) and pointed at the stand-in server
through the environment. While a 2,000-user ``gather_users`` batch runs on the app's own
session, 200 requests (32 at a time) hit the offers handler, in two waves: one while the batch
is busy, one while a 429 with ``Retry-After: 20`` has paused it. Every answer's status, body
and headers are checked, and so is what reached the stand-in server. The only time checked is
a hang-catching bound: no handler answer takes longer than its deadline plus a wide margin.

The README shows both files; a test here keeps the README's code blocks identical to them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import random
import re
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import aiohttp
import msgspec
import pytest
import uvicorn
from aiohttp import web

from adgate_async import (
    AsyncSession,
    InvalidParameterError,
    NotFoundError,
    Personalized,
    ServerError,
    UserBannedError,
    UserResult,
)
from adgate_async.testing import Answer, StandInServer, make_personalized

from ._support import AFF_ID, API_KEY, WALL_CODE, WALL_ID, wait_until

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

#: The deadline the examples put on a whole call, and the margin allowed on top of it before
#: an answer counts as hung (the machine may be loaded; the batch's pause is 20 s).
DEADLINE = 10.0
MARGIN = 8.0
BATCH_PAUSE = 20
CLIENT_CONCURRENCY = 32

T = TypeVar("T")


# ------------------------------------------------------------------ README == files


def readme_block(heading: str) -> str:
    """The first ```python block after ``heading`` in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    match = re.compile(r"^```python\n(.*?)^```$", re.S | re.M).search(text, start)
    assert match is not None, f"no python block after {heading!r}"
    return match.group(1)


@pytest.mark.parametrize(
    ("heading", "name"),
    [
        ("### aiohttp.web (`cleanup_ctx`)", "web_aiohttp.py"),
        ("### FastAPI (`lifespan`)", "web_fastapi.py"),
    ],
)
def test_readme_shows_the_example_files_verbatim(heading: str, name: str) -> None:
    assert readme_block(heading) == (EXAMPLES / name).read_text(encoding="utf-8")


# ------------------------------------------------------------------ the scenario


def load_example(name: str) -> ModuleType:
    """A fresh copy of an example module (each test gets its own app object)."""
    module_name = f"_web_example_{name}"
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Expect:
    """What the app must answer for one user id, and how many requests reach the server."""

    status: int
    message: str | None = None  # the error message; None for a 200 with offers
    requests: int = 1
    retry_after: str | None = None
    logged: str | None = None  # the level the example logs this failure at, if any


def offers_of(uid: str) -> list[dict[str, Any]]:
    """The offers the stand-in server sends for ``uid``, as the app's JSON holds them."""
    doc = msgspec.json.encode(make_personalized(uid, numoffers=10, wall=WALL_ID))
    top = msgspec.json.decode(doc, type=Personalized)
    result: list[dict[str, Any]] = json.loads(json.dumps(msgspec.to_builtins(top.offers)))
    return result


def handler_users(server: StandInServer) -> list[tuple[str, Expect]]:
    """200 user ids for the offers handler, scripted on the stand-in server, shuffled."""
    users: list[tuple[str, Expect]] = []

    def add(kind: str, count: int, expect: Expect, *answers: Answer,
            always: Answer | None = None) -> None:
        for i in range(count):
            uid = f"{kind}-{i}"
            if answers:
                server.script(uid, *answers, endpoint="personalized")
            if always is not None:
                server.always(uid, always, endpoint="personalized")
            users.append((uid, expect))

    add("ok", 122, Expect(200))
    add("flaky", 8, Expect(200, requests=2), Answer.error(500))  # a 500, then the offers
    add("banned", 8, Expect(403, "user banned"), always=Answer.ban("USER_BANNED"))
    add("missing", 8, Expect(404, "user not found"), always=Answer.error(404))
    add("ipban", 6, Expect(503, "offers unavailable", logged="ERROR"),
        always=Answer.ban("IP_BANNED"))
    add("forbidden", 2, Expect(503, "offers unavailable", logged="ERROR"),
        always=Answer.error(403, code="NOT_ALLOWED"))
    add("down", 8, Expect(502, "offers unavailable", requests=2, logged="WARNING"),
        always=Answer.error(503))
    add("refused", 6, Expect(502, "offers unavailable", logged="WARNING"),
        always=Answer.error(400))
    add("garbled", 6, Expect(502, "offers unavailable", logged="WARNING"),
        always=Answer.ok(body=b"<html>not json</html>"))
    # A Retry-After above 60 s is not waited for: 503 at once, passing the wait on.
    add("busy", 6, Expect(503, "offers busy", retry_after="120", logged="WARNING"),
        always=Answer.error(429, retry_after=120))
    # A Retry-After the client would wait out (30 s): the handler's deadline ends it first.
    add("throttled", 4, Expect(504, "offers timed out", logged="WARNING"),
        Answer.error(429, retry_after=30))
    # No answer in time, on both attempts (timeout=3, max_retries=1).
    add("stalled", 6, Expect(504, "offers timed out", requests=2, logged="WARNING"),
        always=Answer.stalled(60))
    add("hung", 6, Expect(504, "offers timed out", requests=2, logged="WARNING"),
        always=Answer.hang(60))
    for i in range(4):  # refused before any request: the id is over 255 bytes
        users.append((f"long-{i}-" + "x" * 260,
                      Expect(400, "uid must be at most 255 bytes in UTF-8 (is 267)",
                             requests=0)))
    assert len(users) == 200
    random.Random(12).shuffle(users)
    return users


@dataclass
class Batch:
    """The batch's user ids, scripted on the stand-in server, and what each must end as."""

    ids: list[str] = field(default_factory=list)
    expected: dict[str, type[Exception] | None] = field(default_factory=dict)
    rate_limited: str = ""


def batch_users(server: StandInServer, size: int = 2000) -> Batch:
    batch = Batch()
    for i in range(size):
        uid = f"b-{i:04d}"
        expected: type[Exception] | None = None
        if i == size // 2:  # pauses the whole batch for BATCH_PAUSE seconds, then succeeds
            uid = batch.rate_limited = f"b-rate-{i}"
            server.script(uid, Answer.error(429, retry_after=BATCH_PAUSE), endpoint="history")
        elif i % 250 == 10:
            uid = f"b-ban-{i}"
            server.always(uid, Answer.ban("USER_BANNED"), endpoint="history")
            expected = UserBannedError
        elif i % 250 == 20:
            uid = f"b-missing-{i}"
            server.always(uid, Answer.error(404), endpoint="history")
            expected = NotFoundError
        elif i % 250 == 30:
            uid = f"b-long-{i}-" + "y" * 300
            expected = InvalidParameterError
        elif i % 250 == 40:
            uid = f"b-flaky-{i}"
            server.script(uid, Answer.error(500), endpoint="history")
        elif i % 250 == 50:
            uid = f"b-down-{i}"
            server.always(uid, Answer.error(503), endpoint="history")
            expected = ServerError
        batch.ids.append(uid)
        batch.expected[uid] = expected
    return batch


def check_batch(results: list[UserResult], batch: Batch) -> None:
    assert [r.user_id for r in results] == batch.ids
    for result in results:
        expected = batch.expected[result.user_id]
        if expected is None:
            assert result.ok, (result.user_id, result.error)
            assert result.history is not None
        else:
            assert type(result.error) is expected, (result.user_id, result.error)


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]
    seconds: float


async def fire(base_url: str, users: list[tuple[str, Expect]]) -> list[Reply]:
    """GET /users/{id}/offers for every user, CLIENT_CONCURRENCY at a time."""
    gate = asyncio.Semaphore(CLIENT_CONCURRENCY)
    timeout = aiohttp.ClientTimeout(total=120)  # only catches a hang; see MARGIN

    async def one(client: aiohttp.ClientSession, uid: str) -> Reply:
        async with gate:
            started = time.monotonic()
            async with client.get(f"{base_url}/users/{uid}/offers") as resp:
                body = await resp.json()
                return Reply(resp.status, body, dict(resp.headers), time.monotonic() - started)

    connector = aiohttp.TCPConnector(limit=CLIENT_CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        return await asyncio.gather(*(one(client, uid) for uid, _ in users))


def check_replies(users: list[tuple[str, Expect]], replies: list[Reply], error_key: str,
                  server: StandInServer) -> None:
    for (uid, expect), reply in zip(users, replies, strict=True):
        assert reply.status == expect.status, (uid, reply.status, reply.body)
        if expect.message is None:
            assert reply.body == offers_of(uid), uid
        else:
            assert reply.body == {error_key: expect.message}, uid
        assert reply.headers.get("Retry-After") == expect.retry_after, uid
        assert server.count(uid, "personalized") == expect.requests, uid
        # The time bound: the example's deadline holds, whatever the batch or server does.
        assert reply.seconds < DEADLINE + MARGIN, (uid, reply.seconds)


def check_logs(caplog: pytest.LogCaptureFixture, users: list[tuple[str, Expect]],
               logger: str) -> None:
    records = [r for r in caplog.records if r.name == logger]
    for level in ("ERROR", "WARNING"):
        want = sum(1 for _, e in users if e.logged == level)
        assert sum(1 for r in records if r.levelname == level) == want, level
    assert not [r for r in records if r.levelname not in ("ERROR", "WARNING")]
    for record in records:  # a refusal's log line has what the vendor's support asks for
        if record.levelname == "ERROR":
            assert "support_id=4242" in record.getMessage()
    for record in caplog.records:  # the key is in no log line, from any logger
        assert API_KEY not in record.getMessage()
        assert "SECRET" not in record.getMessage()


async def run_scenario(
    server: StandInServer,
    base_url: str,
    error_key: str,
    start_batch: Callable[[list[str]], Awaitable[list[UserResult]]],
) -> tuple[list[tuple[str, Expect]], list[Reply]]:
    """The load: the batch starts; wave 1 once it is busy, wave 2 once it is paused."""
    users = handler_users(server)
    batch = batch_users(server)
    batch_task = asyncio.ensure_future(start_batch(batch.ids))
    await wait_until(lambda: server.count(endpoint="history") >= 200, within=60)
    assert not batch_task.done()
    half = len(users) // 2
    wave1 = asyncio.ensure_future(fire(base_url, users[:half]))
    await wait_until(lambda: server.count(batch.rate_limited) >= 1, within=60)
    wave2 = await fire(base_url, users[half:])  # the batch is paused meanwhile
    replies = await wave1 + wave2
    check_replies(users, replies, error_key, server)
    results = await asyncio.wait_for(batch_task, timeout=120)
    check_batch(results, batch)
    assert server.count(batch.rate_limited) == 2
    return users, replies


@pytest.fixture
def example_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[StandInServer], None]:
    def point_at(server: StandInServer) -> None:
        monkeypatch.setenv("ADGATE_AFF_ID", str(AFF_ID))
        monkeypatch.setenv("ADGATE_API_KEY", API_KEY)
        monkeypatch.setenv("ADGATE_WALL_CODE", WALL_CODE)
        monkeypatch.setenv("REVU_WALL_ID", str(WALL_ID))
        monkeypatch.setenv("ADGATE_BASE_URL", server.url)
        monkeypatch.setenv("REVU_BASE_URL", server.url)

    return point_at


@pytest.fixture
async def stand_in() -> AsyncIterator[StandInServer]:
    async with StandInServer(host="127.0.0.1") as server:
        yield server


# ------------------------------------------------------------------ aiohttp.web


async def test_aiohttp_example_under_load_with_a_batch(
    stand_in: StandInServer, example_env: Callable[[StandInServer], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    example_env(stand_in)
    module = load_example("web_aiohttp")
    app: web.Application = module.app
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()  # runs cleanup_ctx up to its yield: the session exists
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        session: AsyncSession = app[module.ADGATE]
        users, _ = await run_scenario(
            stand_in, f"http://127.0.0.1:{port}", "error", session.gather_users
        )
    finally:
        await runner.cleanup()
    assert session.closed  # cleanup_ctx closed it on the way out
    check_logs(caplog, users, module.log.name)


# ------------------------------------------------------------------ FastAPI + uvicorn


class UvicornThread:
    """A real uvicorn server on 127.0.0.1 (free port), in a thread with its own event loop."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, loop="asyncio", http="h11",
                                ws="none", lifespan="on", log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="uvicorn", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.serve())
        finally:
            self.loop.close()

    @property
    def port(self) -> int:
        port: int = self.server.servers[0].sockets[0].getsockname()[1]
        return port

    def run_in_app_loop(self, coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "uvicorn did not stop"


@pytest.fixture
def uvicorn_thread() -> Iterator[Callable[[Any], UvicornThread]]:
    started: list[UvicornThread] = []

    def start(app: Any) -> UvicornThread:
        server = UvicornThread(app)
        started.append(server)
        server.thread.start()
        return server

    yield start
    for server in started:
        if server.thread.is_alive():
            server.stop()


async def test_fastapi_example_under_uvicorn_with_a_batch(
    stand_in: StandInServer, example_env: Callable[[StandInServer], None],
    uvicorn_thread: Callable[[Any], UvicornThread], caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    example_env(stand_in)
    module = load_example("web_fastapi")
    server = uvicorn_thread(module.app)
    await wait_until(lambda: server.server.started or not server.thread.is_alive(), within=60)
    assert server.server.started, "uvicorn did not start"
    session: AsyncSession = module.app.state.adgate

    def start_batch(ids: list[str]) -> Awaitable[list[UserResult]]:
        # The batch runs in the app's own event loop, on the session its handlers use.
        return server.run_in_app_loop(session.gather_users(ids))

    users, _ = await run_scenario(
        stand_in, f"http://127.0.0.1:{server.port}", "detail", start_batch
    )
    await asyncio.to_thread(server.stop)
    assert session.closed  # the lifespan closed it on the way out
    check_logs(caplog, users, module.log.name)
