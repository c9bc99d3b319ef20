"""Credentials and base URLs from the environment, and sessions without AdGate credentials
(issue 12, items 4 and 5)."""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from typing import Any

import pytest

from adgate_async import AdGateError, AsyncSession, InvalidParameterError
from adgate_async._env import VARIABLES
from adgate_async.testing import StandInServer

from ._support import (
    AFF_ID,
    API_KEY,
    HANG,
    WALL_CODE,
    WALL_ID,
    assert_error_clean,
    assert_session_clean,
    assert_walk_clean,
    echoing,
    free_port,
    refused,
)

ADGATE_NAMES = ("ADGATE_AFF_ID", "ADGATE_API_KEY", "ADGATE_WALL_CODE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """None of the six variables set, whatever the machine running the tests has."""
    for name in VARIABLES.values():
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def set_env(monkeypatch: pytest.MonkeyPatch, server: StandInServer | None = None,
            **names: str) -> None:
    if server is not None:
        monkeypatch.setenv("ADGATE_BASE_URL", server.url)
        monkeypatch.setenv("REVU_BASE_URL", server.url)
    for name, value in names.items():
        monkeypatch.setenv(name, value)


def full_env(monkeypatch: pytest.MonkeyPatch, server: StandInServer) -> None:
    set_env(monkeypatch, server, ADGATE_AFF_ID=str(AFF_ID), ADGATE_API_KEY=API_KEY,
            ADGATE_WALL_CODE=WALL_CODE, REVU_WALL_ID=str(WALL_ID))


# ------------------------------------------------------------------- item 4: environment


def test_the_cli_and_the_session_share_one_list_of_names() -> None:
    from adgate_async.cli._args import BASE_URLS, CREDENTIALS

    assert VARIABLES == {
        "aff_id": "ADGATE_AFF_ID", "api_key": "ADGATE_API_KEY",
        "wall_code": "ADGATE_WALL_CODE", "wall_id": "REVU_WALL_ID",
        "adgate_base_url": "ADGATE_BASE_URL", "revu_base_url": "REVU_BASE_URL",
    }
    assert {attr: env for attr, env in CREDENTIALS.values()} | {
        attr: env for attr, env, _ in BASE_URLS.values()} == VARIABLES


async def test_arguments_left_out_are_read_from_the_environment(
    adgate_server: StandInServer, clean_env: pytest.MonkeyPatch,
) -> None:
    full_env(clean_env, adgate_server)
    async with AsyncSession(retry_backoff=0.001) as s:
        await s.get_history("u1")
        await s.get_personalized("u1", numoffers=3)
    history, personalized = adgate_server.requests
    assert history.query["aff_id"] == str(AFF_ID)
    assert history.query["api_key"] == API_KEY
    assert history.query["wall_code"] == WALL_CODE
    assert personalized.query["wall"] == str(WALL_ID)
    assert_session_clean(s)


async def test_an_argument_given_always_wins(
    adgate_server: StandInServer, clean_env: pytest.MonkeyPatch,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    set_env(clean_env, ADGATE_AFF_ID="111", ADGATE_API_KEY="env-key-not-used",
            ADGATE_WALL_CODE="envwall", REVU_WALL_ID="222", ADGATE_BASE_URL=dead,
            REVU_BASE_URL=dead)
    async with AsyncSession(aff_id=AFF_ID, api_key=API_KEY, wall_code=WALL_CODE,
                            wall_id=None, **adgate_server.session_urls()) as s:
        await s.get_history("u1")
        with pytest.raises(InvalidParameterError, match="wall is required"):
            await s.get_personalized("u1", numoffers=3)  # wall_id=None stands
        await s.get_personalized("u1", numoffers=3, wall=9)
    history, personalized = adgate_server.requests
    assert (history.query["aff_id"], history.query["api_key"], history.query["wall_code"]) \
        == (str(AFF_ID), API_KEY, WALL_CODE)
    assert personalized.query["wall"] == "9"


async def test_an_empty_variable_counts_as_unset(
    adgate_server: StandInServer, clean_env: pytest.MonkeyPatch,
) -> None:
    set_env(clean_env, ADGATE_AFF_ID="", ADGATE_API_KEY="", ADGATE_WALL_CODE="",
            REVU_BASE_URL="", ADGATE_BASE_URL="")
    s = AsyncSession(wall_id=5)
    assert s._settings.missing == ("aff_id", "api_key", "wall_code")
    assert s._settings.revu_base_url == "https://publishers.revenueuniverse.com"


async def test_the_key_from_the_environment_is_redacted_like_an_argument(
    adgate_server: StandInServer, clean_env: pytest.MonkeyPatch,
) -> None:
    full_env(clean_env, adgate_server)
    adgate_server.always("echo", echoing(500))
    async with AsyncSession(max_retries=0) as s:
        with pytest.raises(AdGateError) as info:
            await asyncio.wait_for(s.get_history("echo"), HANG)
    assert_error_clean(info.value)


# A value that looks like a secret: it must not appear anywhere in the error.
SECRET = f"sk-live-{API_KEY}"

_BAD_ENV = {
    "ADGATE_AFF_ID": [SECRET, "0", "-5", "9" * 30, "1.5"],
    "REVU_WALL_ID": [SECRET, "0x10"],
    "ADGATE_BASE_URL": [f"https://api.example/?api_key={SECRET}", f"ftp://{SECRET}",
                        f"http://{SECRET}.example.com", f"https://u:{SECRET}@h.example"],
    "REVU_BASE_URL": [f"not a url {SECRET}", f"https://revu.example/#{SECRET}"],
}


@pytest.mark.parametrize(("name", "value"),
                         [(n, v) for n, values in _BAD_ENV.items() for v in values])
def test_a_bad_variable_names_itself_and_the_rule_never_the_value(
    clean_env: pytest.MonkeyPatch, name: str, value: str,
) -> None:
    set_env(clean_env, ADGATE_API_KEY=API_KEY, ADGATE_WALL_CODE=WALL_CODE)
    if name != "ADGATE_AFF_ID":
        set_env(clean_env, ADGATE_AFF_ID=str(AFF_ID))
    clean_env.setenv(name, value)
    exc = refused(name, AsyncSession)
    text = str(exc)
    param = next(p for p, v in VARIABLES.items() if v == name)
    assert f"read for {param}" in text
    assert "must" in text
    shown = text + repr(exc) + "".join(traceback.format_exception(exc))
    assert len(value) < 4 or value not in shown
    assert SECRET not in shown
    assert exc.__context__ is None
    assert_walk_clean(exc)


# ------------------------------------------------------------- item 5: RevU-only sessions


async def test_a_revu_only_session_fetches_offers(adgate_server: StandInServer) -> None:
    async with AsyncSession(wall_id=WALL_ID, revu_base_url=adgate_server.url,
                            retry_backoff=0.001) as s:
        offers = await s.get_personalized("u1", numoffers=2)
        gathered = await s.gather_personalized(["u2", "u3"], numoffers=2)
        iterated = [r async for r in s.iter_personalized(["u4"], numoffers=2)]
        raw = await s.with_raw_response.get_personalized("u5", numoffers=2)
    assert len(offers.offers) == 2
    assert all(r.ok for r in gathered + iterated)
    assert raw.status == 200
    assert adgate_server.count(endpoint="personalized") == 5
    assert "api_key=None" in repr(s)


async def _iter_users(s: AsyncSession) -> None:
    s.iter_users(["u1"])  # refused when called, before the first result is asked for


_HISTORY_CALLS: dict[str, Any] = {
    "get_history": lambda s: s.get_history("u1"),
    "gather_users": lambda s: s.gather_users(["u1", "u2"]),
    "iter_users": _iter_users,
    "raw get_history": lambda s: s.with_raw_response.get_history("u1"),
}


def _assert_names_missing(exc: InvalidParameterError, missing: tuple[str, ...]) -> None:
    text = str(exc)
    assert exc.param == ", ".join(missing)
    assert text.startswith(exc.param + " ")
    for name in ("aff_id", "api_key", "wall_code"):
        variable = VARIABLES[name]
        assert (name in text.split(" needed")[0]) == (name in missing), text
        assert (variable in text) == (name in missing), text
    assert "Get History" in text


@pytest.mark.parametrize("call", list(_HISTORY_CALLS))
async def test_history_on_a_revu_only_session_is_refused_before_any_request(
    adgate_server: StandInServer, call: str,
) -> None:
    async with AsyncSession(wall_id=WALL_ID, **adgate_server.session_urls()) as s:
        with pytest.raises(InvalidParameterError) as info:
            await asyncio.wait_for(_HISTORY_CALLS[call](s), HANG)
    _assert_names_missing(info.value, ("aff_id", "api_key", "wall_code"))
    assert adgate_server.count() == 0


@pytest.mark.parametrize(
    ("given", "env", "missing"),
    [
        ({"aff_id": AFF_ID}, {}, ("api_key", "wall_code")),
        ({"aff_id": AFF_ID, "api_key": API_KEY}, {}, ("wall_code",)),
        ({}, {"ADGATE_API_KEY": API_KEY}, ("aff_id", "wall_code")),
        ({"wall_code": WALL_CODE}, {"ADGATE_AFF_ID": "7"}, ("api_key",)),
    ],
)
async def test_partial_credentials_are_allowed_and_history_names_the_missing_ones(
    adgate_server: StandInServer, clean_env: pytest.MonkeyPatch, given: dict[str, Any],
    env: dict[str, str], missing: tuple[str, ...],
) -> None:
    set_env(clean_env, **env)
    async with AsyncSession(**given, **adgate_server.session_urls()) as s:
        with pytest.raises(InvalidParameterError) as info:
            await s.get_history("u1")
        assert_walk_clean(info.value)
        await s.get_personalized("u1", numoffers=1, wall=3)
    _assert_names_missing(info.value, missing)
    assert adgate_server.count(endpoint="history") == 0
    assert adgate_server.count(endpoint="personalized") == 1


def test_a_session_with_nothing_to_call_is_refused() -> None:
    with pytest.raises(InvalidParameterError) as info:
        AsyncSession()
    text = str(info.value)
    for name in (*VARIABLES, *ADGATE_NAMES, "REVU_WALL_ID"):
        if "base_url" not in name:
            assert name in text
    with pytest.raises(InvalidParameterError):
        AsyncSession(wall_id=None, timeout=5)


async def test_a_closed_revu_only_session_says_closed_first(
    adgate_server: StandInServer,
) -> None:
    s = AsyncSession(wall_id=WALL_ID, **adgate_server.session_urls())
    await s.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await s.get_history("u1")


# ---------------------------------------------------------------- the CLI reads the same


async def _cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    code = "import sys; from adgate_async.cli import main; sys.exit(main())"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _cli_env(**names: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADGATE_", "REVU_"))}
    env.update(names)
    return env


async def test_the_cli_reads_the_base_urls_from_the_environment(
    adgate_server: StandInServer,
) -> None:
    env = _cli_env(ADGATE_AFF_ID=str(AFF_ID), ADGATE_API_KEY=API_KEY,
                   ADGATE_WALL_CODE=WALL_CODE, REVU_WALL_ID=str(WALL_ID),
                   ADGATE_BASE_URL=adgate_server.url, REVU_BASE_URL=adgate_server.url)
    rc, _, err = await _cli("history", "u1", env=env)
    assert rc == 0, err
    rc, _, err = await _cli("personalized", "u1", "-n", "2", env=env)
    assert rc == 0, err
    assert adgate_server.count(endpoint="history") == 1
    assert adgate_server.count(endpoint="personalized") == 1
    # A flag still wins over the variable.
    env["REVU_BASE_URL"] = f"http://127.0.0.1:{free_port()}"
    rc, _, err = await _cli("personalized", "u1", "-n", "2", "--revu-base-url",
                              adgate_server.url, env=env)
    assert rc == 0, err


async def test_the_cli_names_a_bad_base_url_variable_never_its_value() -> None:
    env = _cli_env(REVU_WALL_ID=str(WALL_ID), REVU_BASE_URL=f"https://h.example/?k={SECRET}")
    rc, out, err = await _cli("personalized", "u1", "-n", "2", env=env)
    assert rc == 2
    assert "REVU_BASE_URL" in err
    assert SECRET not in out + err
