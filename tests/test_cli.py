"""The adgate-async command, run as a real subprocess against the stand-in server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from adgate_async.cli import _count_ids, main, script_demo_faults
from adgate_async.testing import Answer, StandInServer

from ._support import (
    AFF_ID,
    API_KEY,
    FORMS,
    WALL_CODE,
    WALL_ID,
    echoing,
    free_port,
)


def cli_env() -> dict[str, str]:
    """This environment, with the tests' credentials in place of any of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADGATE_", "REVU_"))}
    env.update(ADGATE_AFF_ID=str(AFF_ID), ADGATE_API_KEY=API_KEY, ADGATE_WALL_CODE=WALL_CODE,
               REVU_WALL_ID=str(WALL_ID))
    return env


def env_for(server: StandInServer) -> dict[str, str]:
    return cli_env()


async def run_cli(*args: str, env: dict[str, str] | None = None, stdin: bytes = b"",
                  prelude: str = "") -> tuple[int, str, str]:
    code = f"{prelude}import sys; from adgate_async.cli import main; sys.exit(main())"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, *args, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def base_urls(base: str) -> list[str]:
    return ["--adgate-base-url", base, "--revu-base-url", base]


def urls(server: StandInServer) -> list[str]:
    return base_urls(server.url)


async def test_bulk_over_a_file_writes_one_line_per_user(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    ids = [f"user{i}" for i in range(1000)]
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    out = tmp_path / "out.jsonl"
    rc, stdout, stderr = await run_cli(
        "bulk", str(tmp_path / "ids.txt"), "-o", str(out), "--concurrency", "8",
        *urls(adgate_server), env=env_for(adgate_server),
    )
    assert rc == 0, stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 1000
    assert sorted(line["user_id"] for line in lines) == sorted(ids)
    assert all(len(line["history"]["data"]) == 3 for line in lines)
    assert "users 1000  ok 1000  errors 0" in stderr
    assert stdout == ""
    assert API_KEY not in stderr
    assert adgate_server.count() == 1000


async def test_bulk_reports_failures_and_exits_1(adgate_server: StandInServer) -> None:
    adgate_server.always("u2", Answer.ban("USER_BANNED", support_id=77))
    adgate_server.always("u4", Answer.error(404))
    stdin = b"u1\nu2\n\nu3\nu4\nu5\n"
    rc, stdout, stderr = await run_cli("bulk", "-", "--ordered", "--strict", *urls(adgate_server),
                                       env=env_for(adgate_server), stdin=stdin)
    assert rc == 1  # --strict: any error line fails the run (without it: 0)
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [line["user_id"] for line in lines] == ["u1", "u2", "u3", "u4", "u5"]
    assert lines[1]["error"] == {
        "type": "UserBannedError", "status": 403, "code": "USER_BANNED",
        "message": "user banned", "support_id": 77, "attempts": 1,
    }
    assert lines[3]["error"]["type"] == "NotFoundError"
    assert "users 5  ok 3  errors 2" in stderr
    assert "skipped 1 blank lines" in stderr
    assert API_KEY not in stdout + stderr


async def test_bad_utf8_on_stdin_is_a_per_user_error(adgate_server: StandInServer) -> None:
    rc, stdout, stderr = await run_cli("bulk", "-", *urls(adgate_server),
        env=env_for(adgate_server),
                                       stdin=b"u1\n\xff\xfebad\nu3\n")
    assert rc == 0, stderr  # every id got its line, the bad one an error line
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert len(lines) == 3
    bad = [line for line in lines if "error" in line]
    assert len(bad) == 1
    assert bad[0]["error"]["type"] == "InvalidParameterError"
    assert adgate_server.count() == 2


def test_only_regular_files_are_counted_ahead(tmp_path: Path) -> None:
    regular = tmp_path / "ids.txt"
    regular.write_bytes(b"a\n\nb\r\nc")
    assert _count_ids(str(regular)) == 3
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert _count_ids(str(fifo)) is None  # a pipe can be read once: never pre-read it


async def test_progress_bar_and_verbose_logs_never_show_the_key(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    adgate_server.script("u1", Answer.error(500))
    (tmp_path / "ids.txt").write_text("u1\nu2\nu3\n")
    rc, _, stderr = await run_cli("bulk", str(tmp_path / "ids.txt"), "--progress", "-v",
                                  "-o", str(tmp_path / "o.jsonl"), *urls(adgate_server),
                                  env=env_for(adgate_server))
    assert rc == 0, stderr
    assert "user/s" in stderr  # the tqdm bar
    assert "errors 0" in stderr
    assert "api_key=***" in stderr  # the DEBUG lines, redacted
    assert API_KEY not in stderr


async def test_bulk_runs_without_tqdm(adgate_server: StandInServer) -> None:
    rc, stdout, stderr = await run_cli("bulk", "-", "--progress", *urls(adgate_server),
                                       env=env_for(adgate_server), stdin=b"u1\n",
                                       prelude="import sys; sys.modules['tqdm'] = None; ")
    assert rc == 0, stderr
    assert "install the 'cli' extra" in stderr
    assert json.loads(stdout)["user_id"] == "u1"


async def test_history_and_personalized_print_json(adgate_server: StandInServer) -> None:
    rc, stdout, stderr = await run_cli("history", "user12345", *urls(adgate_server),
                                       env=env_for(adgate_server))
    assert rc == 0, stderr
    assert json.loads(stdout)["data"][0]["offer_id"] == 360819
    rc, stdout, stderr = await run_cli("personalized", "u1", "-n", "4", "--device", "ios",
                                       *urls(adgate_server), env=env_for(adgate_server))
    assert rc == 0, stderr
    doc = json.loads(stdout)
    assert doc["wall_id"] == WALL_ID
    assert len(doc["offers"]) == 4
    assert "api_key" not in adgate_server.requests[-1].query


async def test_a_failed_call_exits_1_with_the_typed_error(adgate_server: StandInServer) -> None:
    adgate_server.always("b", Answer.ban("IP_BANNED"))
    rc, stdout, stderr = await run_cli("history", "b", *urls(adgate_server),
        env=env_for(adgate_server))
    assert rc == 1
    assert "IPBannedError" in stderr
    assert "IP_BANNED" in stderr
    assert stdout == ""
    assert API_KEY not in stderr


async def test_missing_credentials_exit_2(adgate_server: StandInServer) -> None:
    env = {k: v for k, v in env_for(adgate_server).items() if k != "ADGATE_API_KEY"}
    rc, _, stderr = await run_cli("history", "u", *urls(adgate_server), env=env)
    assert rc == 2
    assert "ADGATE_API_KEY" in stderr
    assert adgate_server.count() == 0


def test_bad_argument_exits_2_before_any_request(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["personalized", "u", "-n", "501", "--aff-id", "1", "--api-key", "k",
              "--wall-code", "w", "--wall-id", "5", "--revu-base-url", "http://127.0.0.1:9"])
    assert info.value.code == 2
    assert "numoffers" in capsys.readouterr().err


def test_help_documents_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bulk", "--help"])
    text = capsys.readouterr().out
    assert "exit status" in text
    assert "at least one user" in text
    assert "ADGATE_API_KEY" in text


def test_demo_accounts_for_every_user(capsys: pytest.CaptureFixture[str]) -> None:
    class Recorder:  # what the demo scripts, to derive the expected summary from
        def __init__(self) -> None:
            self.fixed: dict[str, int] = {}
            self.once: list[str] = []

        def always(self, user_id: str, answer: Answer) -> None:
            self.fixed[user_id] = answer.status

        def script(self, user_id: str, *answers: Answer) -> None:
            self.once.append(user_id)

    recorder = Recorder()
    script_demo_faults(recorder, 500)
    banned = sum(status == 403 for status in recorder.fixed.values())
    missing = sum(status == 404 for status in recorder.fixed.values())
    # The demo really injects all three faults.
    assert banned > 0
    assert missing > 0
    assert recorder.once

    assert main(["demo", "--users", "500"]) == 0
    err = capsys.readouterr().err
    ok = 500 - banned - missing
    assert f"users 500  ok {ok}  errors {banned + missing} " in err
    assert f"UserBannedError {banned}" in err
    assert f"NotFoundError {missing}" in err
    assert f"retries {len(recorder.once)}" in err  # each 500 recovered after one retry


async def test_python_dash_m_entry_point() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adgate_async", "--version", stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    assert out.decode().startswith("adgate-async ")


async def test_cli_rate_below_the_floor_exits_2_before_any_request(
    adgate_server: StandInServer,
) -> None:
    from .test_cli import env_for, run_cli, urls

    rc, _stdout, stderr = await asyncio.wait_for(
        run_cli("bulk", "-", "--rate", "1e-300", *urls(adgate_server), env=env_for(adgate_server),
                stdin=b"u1\nu2\n"),
        60,
    )
    assert rc != 0
    assert "max_per_second" in stderr
    assert adgate_server.count() == 0


def _assert_output_clean(*texts: str) -> None:
    for text in texts:
        for form in FORMS:
            assert form not in text, f"API key leaked on the command line: {text!r}"


async def _run_cli(*args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    return await run_cli(*args, env=cli_env(), stdin=stdin)


async def test_cli_history_500_then_reset_never_prints_the_key(
    adgate_server: StandInServer
) -> None:
    adgate_server.script("u", echoing(500))
    adgate_server.always("u", Answer.drop())
    rc, stdout, stderr = await _run_cli("history", "u", "-v", "--max-retries", "1",
                                        *base_urls(adgate_server.url))
    assert rc == 1, stderr
    assert adgate_server.count("u") >= 2
    assert "adgate-async: TransportError:" in stderr
    assert " -> 500 in " in stderr  # the DEBUG line of the first attempt was printed
    assert "api_key=***" in stderr
    assert stdout == ""
    _assert_output_clean(stdout, stderr)


async def test_cli_history_refused_never_prints_the_key() -> None:
    rc, stdout, stderr = await _run_cli("history", "u", "-v", "--max-retries", "1",
                                        *base_urls(f"http://127.0.0.1:{free_port()}"))
    assert rc == 1, stderr
    assert "adgate-async: TransportError:" in stderr
    assert "retrying GET" in stderr
    assert "api_key=***" in stderr
    _assert_output_clean(stdout, stderr)


async def test_cli_bulk_with_progress_and_verbose_never_prints_the_key(
    adgate_server: StandInServer,
) -> None:
    adgate_server.always("s400", echoing(400))
    adgate_server.always("s500", echoing(500))
    adgate_server.always("reset", Answer.drop())
    adgate_server.always("ban", Answer.ban("USER_BANNED"))
    adgate_server.always("redirect", Answer(status=302, body=b"", headers={
        "Location": f"https://evil.test/?api_key={quote(API_KEY, safe='')}"}))
    adgate_server.always("shape", Answer.ok(body=f'{{"data": "{API_KEY}"}}'.encode()))
    ids = ["ok", "s400", "s500", "reset", "ban", "redirect", "shape"]
    rc, stdout, stderr = await _run_cli(
        "bulk", "-", "--progress", "-v", "--ordered", "--max-retries", "1", "--strict",
        *base_urls(adgate_server.url), stdin="\n".join(ids).encode() + b"\n",
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
