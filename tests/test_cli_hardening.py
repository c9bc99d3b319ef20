"""The adgate-async command under hostile conditions: real subprocesses, files, signals,
pipes, a pseudo-terminal and /dev/full, against the stand-in server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import sys
from pathlib import Path

import msgspec
import pytest

from adgate_async.testing import Answer, StandInServer
from adgate_async.testing._data import make_history

from ._support import (
    API_KEY,
)
from .test_cli import env_for, run_cli, urls

needs_dev_full = pytest.mark.skipif(not Path("/dev/full").exists(),
                                    reason="this system has no /dev/full")


CONTROL = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))]


async def start_cli(*args: str, env: dict[str, str], prelude: str = "",
                    stdout: int = asyncio.subprocess.PIPE) -> asyncio.subprocess.Process:
    code = f"{prelude}import sys; from adgate_async.cli import main; sys.exit(main())"
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, *args, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=stdout, stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.parametrize("how", ["same path", "symlink", "hardlink", "stdin redirected"])
async def test_bulk_refuses_an_output_that_is_the_input(
    adgate_server: StandInServer, tmp_path: Path, how: str
) -> None:
    ids = tmp_path / "ids.txt"
    content = b"u1\nu2\nu3\n"
    ids.write_bytes(content)
    output = ids
    if how == "symlink":
        output = tmp_path / "link.jsonl"
        output.symlink_to(ids)
    elif how == "hardlink":
        output = tmp_path / "hard.jsonl"
        os.link(ids, output)
    if how == "stdin redirected":
        with ids.open("rb") as stdin:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "adgate_async", "bulk", "-o", str(output),
                *urls(adgate_server), env=env_for(adgate_server), stdin=stdin,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        rc, stderr = proc.returncode, err.decode()
    else:
        rc, _, stderr = await run_cli("bulk", str(ids), "-o", str(output), *urls(adgate_server),
                                      env=env_for(adgate_server))
    assert rc == 2, stderr
    assert "is the input" in stderr
    assert ids.read_bytes() == content
    assert adgate_server.count() == 0


@pytest.mark.parametrize("where", ["missing dir", "directory"])
async def test_an_output_that_cannot_be_opened_exits_3_with_one_line(
    adgate_server: StandInServer, tmp_path: Path, where: str
) -> None:
    target = tmp_path / "no" / "such" / "x.jsonl" if where == "missing dir" else tmp_path
    reason = "No such file or directory" if where == "missing dir" else "Is a directory"
    rc, _, stderr = await run_cli("bulk", "-", "-o", str(target), *urls(adgate_server),
                                       env=env_for(adgate_server), stdin=b"u1\nu2\n")
    assert rc == 3, stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert any(str(target) in line and reason in line for line in lines), stderr
    assert adgate_server.count() == 0


@needs_dev_full
async def test_dev_full_exits_3_with_the_reason_and_the_summary(
    adgate_server: StandInServer
) -> None:
    rc, _, stderr = await run_cli("bulk", "-", "-o", "/dev/full", *urls(adgate_server),
                                       env=env_for(adgate_server),
                                       stdin=b"".join(b"u%d\n" % i for i in range(50)))
    assert rc == 3, stderr
    assert "Traceback" not in stderr
    assert "/dev/full" in stderr
    assert "No space left on device" in stderr
    assert "users " in stderr  # the summary
    assert "wrote 0 lines" in stderr


async def test_a_full_disk_leaves_only_whole_lines(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    # A file size limit is a real "disk full" for this process: writes past it fail (EFBIG).
    out = tmp_path / "out.jsonl"
    prelude = ("import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
               "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000)); ")
    rc, _, stderr = await run_cli("bulk", "-", "-o", str(out), *urls(adgate_server),
                                  env=env_for(adgate_server), prelude=prelude,
                                  stdin=b"".join(b"user%d\n" % i for i in range(300)))
    assert rc == 3, stderr
    assert "Traceback" not in stderr
    assert str(out) in stderr
    assert "File too large" in stderr
    data = out.read_bytes()
    assert data.endswith(b"\n")
    lines = data.splitlines()
    assert lines
    for line in lines:
        json.loads(line)
    assert f"wrote {len(lines)} lines" in stderr


@needs_dev_full
async def test_history_to_a_full_stdout_exits_3(adgate_server: StandInServer) -> None:
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        proc = await start_cli("history", "u1", *urls(adgate_server), env=env_for(adgate_server),
                               stdout=full)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        os.close(full)
    stderr = err.decode()
    assert proc.returncode == 3, stderr
    assert "Traceback" not in stderr
    assert "No space left on device" in stderr


@pytest.mark.parametrize(("where", "name"), [
    ("env", "ADGATE_AFF_ID"), ("flag", "--aff-id"), ("env", "REVU_WALL_ID"),
    ("flag", "--wall-id"),
])
async def test_a_credential_in_the_wrong_slot_is_never_echoed(
    adgate_server: StandInServer, where: str, name: str
) -> None:
    env = env_for(adgate_server)
    args = ["history", "u1", *urls(adgate_server)]
    if where == "env":
        env[name] = API_KEY
    else:
        args += [name, API_KEY]
    rc, stdout, stderr = await run_cli(*args, env=env)
    assert rc == 2, stderr
    assert API_KEY not in stdout + stderr
    assert "941bd1fe" not in stdout + stderr
    assert f"{name} must be a positive integer" in stderr
    assert adgate_server.count() == 0


async def test_a_stray_key_on_the_command_line_is_not_echoed(adgate_server: StandInServer) -> None:
    env = env_for(adgate_server)
    env.pop("ADGATE_API_KEY")
    rc, stdout, stderr = await run_cli("history", "u1", "--api-key", "k-" + API_KEY, API_KEY,
                                       *urls(adgate_server), env=env)
    assert rc == 2, stderr
    assert "941bd1fe" not in stdout + stderr
    assert "unrecognized arguments" in stderr



async def test_a_bom_is_stripped_and_blank_looking_lines_are_skipped(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_bytes(b"\xef\xbb\xbfu1\r\n  \r\n\t\nu2\n \n")
    rc, stdout, stderr = await run_cli("bulk", str(ids), "--ordered", *urls(adgate_server),
                                       env=env_for(adgate_server))
    assert rc == 0, stderr
    assert [json.loads(line)["user_id"] for line in stdout.splitlines()] == ["u1", "u2"]
    assert "skipped 3 blank lines" in stderr
    # The same through stdin.
    rc, stdout, stderr = await run_cli("bulk", *urls(adgate_server), env=env_for(adgate_server),
                                       stdin=b"\xef\xbb\xbfu3\n \nu4\n")
    assert rc == 0, stderr
    assert sorted(json.loads(line)["user_id"] for line in stdout.splitlines()) == ["u3", "u4"]


async def test_a_bad_number_names_the_option_not_a_function(adgate_server: StandInServer) -> None:
    rc, _, stderr = await run_cli("bulk", "--concurrency", "abc", env=env_for(adgate_server))
    assert rc == 2
    assert "_positive_int" not in stderr
    assert "--concurrency" in stderr
    assert "must be a positive integer" in stderr


async def test_a_bad_aff_id_variable_names_the_rule(adgate_server: StandInServer) -> None:
    env = env_for(adgate_server)
    env["ADGATE_AFF_ID"] = "abc"
    rc, _, stderr = await run_cli("history", "u1", *urls(adgate_server), env=env)
    assert rc == 2
    assert "invalid literal" not in stderr
    assert "ADGATE_AFF_ID must be a positive integer" in stderr


async def test_personalized_without_a_wall_names_the_flag_and_variable(
    adgate_server: StandInServer,
) -> None:
    env = env_for(adgate_server)
    env.pop("REVU_WALL_ID")
    rc, _, stderr = await run_cli("personalized", "u1", "-n", "3", *urls(adgate_server), env=env)
    assert rc == 2, stderr
    assert "--wall-id" in stderr
    assert "REVU_WALL_ID" in stderr
    assert adgate_server.count() == 0


async def test_bulk_on_a_terminal_says_it_reads_standard_input(
    adgate_server: StandInServer
) -> None:
    controller, terminal = pty.openpty()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "adgate_async", "bulk", *urls(adgate_server),
                env=env_for(adgate_server),
            stdin=terminal, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert proc.stderr is not None
        line = await asyncio.wait_for(proc.stderr.readline(), timeout=30)
        assert b"standard input" in line
        os.write(controller, b"u1\n\x04")  # an id, then end of input (Ctrl-D)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        os.close(controller)
        os.close(terminal)
    assert proc.returncode == 0, err.decode()
    assert json.loads(out)["user_id"] == "u1"


@pytest.mark.parametrize("command", [[], ["bulk"], ["demo"], ["history"], ["personalized"]])
async def test_help_is_wrapped_to_the_terminal(command: list[str]) -> None:
    env = dict(os.environ, COLUMNS="80")
    rc, stdout, stderr = await run_cli(*command, "--help", env=env)
    assert rc == 0, stderr
    assert "exit status" in stdout
    long = [line for line in stdout.splitlines() if len(line) > 80]
    assert not long, long


async def test_help_documents_every_exit_status() -> None:
    rc, stdout, _ = await run_cli("bulk", "--help")
    assert rc == 0
    text = " ".join(stdout.split())
    for status in ("0 ", "1 ", "2 ", "3 ", "130 ", "143 "):
        assert status in text
    assert "could not be written" in text
    assert "SIGTERM" in text


async def test_history_escapes_control_characters_from_the_server(
    adgate_server: StandInServer,
) -> None:
    doc = make_history("evil", 2, seed=1)
    doc["data"][0]["anchor"] = "x\x1b]0;pwned\x07\x9b31m\x7fy\u202e"
    adgate_server.always("evil", Answer.ok(body=msgspec.json.encode(doc)))
    adgate_server.always("bad", Answer.error(500, message="oops\x1b[2J\x9b\x07"))
    rc, stdout, stderr = await run_cli("history", "evil", *urls(adgate_server),
        env=env_for(adgate_server))
    assert rc == 0, stderr
    assert not [c for c in stdout if c in CONTROL and c != "\n"]
    assert "\u202e" not in stdout
    assert json.loads(stdout)["data"][0]["anchor"] == doc["data"][0]["anchor"]
    rc, stdout, stderr = await run_cli("history", "bad", "--max-retries", "0",
                                       *urls(adgate_server), env=env_for(adgate_server))
    assert rc == 1
    assert not [c for c in stderr if c in CONTROL and c != "\n"], repr(stderr)
    assert "oops" in stderr


async def test_a_closed_output_pipe_still_ends_quietly_with_0(adgate_server: StandInServer) -> None:
    # The documented `bulk ... | head` behaviour survives the writer thread.
    read_end, write_end = os.pipe()
    try:
        proc = await start_cli("bulk", "-", *urls(adgate_server), env=env_for(adgate_server),
                               stdout=write_end)
        os.close(write_end)
        assert proc.stdin is not None
        proc.stdin.write(b"".join(b"u%d\n" % i for i in range(2000)))
        with os.fdopen(read_end, "rb") as reader:
            read_end = -1
            first = await asyncio.to_thread(reader.readline)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        if read_end != -1:
            os.close(read_end)
    assert json.loads(first)["user_id"].startswith("u")
    assert proc.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()


async def test_a_full_disk_keeps_what_an_appended_file_held(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    # `bulk ... >> out.jsonl`: the cut after a failed write never reaches the older lines.
    out = tmp_path / "out.jsonl"
    before = b'{"user_id":"older","history":{"data":[]}}\n' * 100
    out.write_bytes(before)
    prelude = ("import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
               "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000)); ")
    fd = os.open(out, os.O_WRONLY | os.O_APPEND)
    try:
        proc = await start_cli("bulk", "-", *urls(adgate_server), env=env_for(adgate_server),
                               prelude=prelude, stdout=fd)
        _, err = await asyncio.wait_for(
            proc.communicate(b"".join(b"user%d\n" % i for i in range(300))), timeout=60)
    finally:
        os.close(fd)
    assert proc.returncode == 3, err.decode()
    data = out.read_bytes()
    assert data.startswith(before)
    assert data.endswith(b"\n")
    lines = data[len(before):].splitlines()
    for line in lines:
        json.loads(line)
    assert f"wrote {len(lines)} lines" in err.decode()


async def test_a_directory_as_input_is_a_usage_error(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    rc, _, stderr = await run_cli("bulk", str(tmp_path), *urls(adgate_server),
        env=env_for(adgate_server))
    assert rc == 2, stderr
    assert "Is a directory" in stderr
    assert "Traceback" not in stderr


# ---------------------------------------------------------------- item 12: index on each line


async def test_every_bulk_line_carries_the_index_of_its_id(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    adgate_server.script("u-bad", Answer.error(404, message="user not found"))
    ids = tmp_path / "ids.txt"
    # A duplicate, a failing user and a blank line: the index counts ids, not lines.
    ids.write_text("u1\nu-bad\n\nu1\nu2\n")
    rc, stdout, stderr = await run_cli("bulk", str(ids), *urls(adgate_server),
                                       env=env_for(adgate_server))
    assert rc == 0, stderr  # one user failed, but every id has its line
    lines = [json.loads(line) for line in stdout.splitlines()]
    by_index = {line["index"]: line for line in lines}
    assert sorted(by_index) == [0, 1, 2, 3]
    assert [by_index[i]["user_id"] for i in range(4)] == ["u1", "u-bad", "u1", "u2"]
    assert "error" in by_index[1]
    assert "history" in by_index[2]


@pytest.mark.parametrize("overwrite", [False, True], ids=["default", "overwrite"])
@pytest.mark.parametrize("bad", [["--rate", "1e-300"], ["--offer-ids", "0"]],
                         ids=["rate", "offer-ids"])
async def test_a_usage_error_leaves_an_existing_output_alone(
    adgate_server: StandInServer, tmp_path: Path, bad: list[str], overwrite: bool
) -> None:
    """Review finding 8: options the library checks (``--rate`` below its floor, a bad
    ``--offer-ids``) were refused only after ``-o`` had been opened for writing, so an
    existing results file was emptied on an exit-2 usage error."""
    out = tmp_path / "results.jsonl"
    out.write_bytes(b"yesterday's results\n")
    extra = ["--overwrite"] if overwrite else []
    proc = await start_cli("bulk", "-", "-o", str(out), *extra, *bad, *urls(adgate_server),
                           env=env_for(adgate_server))
    _, err = await asyncio.wait_for(proc.communicate(b"u1\n"), timeout=60)
    assert proc.returncode == 2, err.decode()
    assert out.read_bytes() == b"yesterday's results\n"
    assert adgate_server.count() == 0


async def test_too_high_a_concurrency_names_the_concurrency_option(
    adgate_server: StandInServer,
) -> None:
    """Review finding 9: ``--concurrency 20000`` was reported as ``--max-connections:
    max_connections must be ...``, an option the command does not have."""
    proc = await start_cli("bulk", "-", "--concurrency", "20000", *urls(adgate_server),
                           env=env_for(adgate_server))
    _, err = await asyncio.wait_for(proc.communicate(b"u1\n"), timeout=60)
    stderr = err.decode()
    assert proc.returncode == 2, stderr
    assert "--concurrency" in stderr
    assert "max-connections" not in stderr
    assert "max_connections" not in stderr


@pytest.mark.parametrize("where", ["ADGATE_AFF_ID", "--aff-id"])
async def test_a_huge_aff_id_names_where_it_came_from(
    adgate_server: StandInServer, where: str
) -> None:
    """Review finding 10: an aff id of 5,000 digits gave Python's bare "Exceeds the limit
    (4300 digits) for integer string conversion", naming neither the source nor the rule."""
    env = env_for(adgate_server)
    args: list[str] = []
    if where == "ADGATE_AFF_ID":
        env["ADGATE_AFF_ID"] = "9" * 5000
    else:
        args = ["--aff-id", "9" * 5000]
    proc = await start_cli("history", "u1", *args, *urls(adgate_server), env=env)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    stderr = err.decode()
    assert proc.returncode == 2, stderr
    assert where in stderr
    assert "4300" not in stderr


async def test_bulk_on_a_terminal_escapes_control_characters_from_the_server(
    adgate_server: StandInServer,
) -> None:
    """Review finding 15: ``bulk`` writing to a terminal passed DEL, C1 controls (``\\x9b``
    is CSI) and bidi overrides (``\\u202e``) from the server's strings to it raw: the JSON
    encoder escapes only C0."""
    doc = make_history("evil", 2, seed=1)
    doc["data"][0]["anchor"] = "x\x9b31m\x7fy\u202e"
    adgate_server.always("evil", Answer.ok(body=msgspec.json.encode(doc)))
    controller, terminal = pty.openpty()
    try:
        proc = await start_cli("bulk", "-", *urls(adgate_server), env=env_for(adgate_server),
                               stdout=terminal)
        os.close(terminal)
        terminal = -1
        _, err = await asyncio.wait_for(proc.communicate(b"evil\n"), timeout=60)
        assert proc.returncode == 0, err.decode()
        shown = b""
        with contextlib.suppress(OSError):  # EIO once the child's side is closed
            while chunk := os.read(controller, 1 << 16):
                shown += chunk
    finally:
        for fd in (controller, terminal):
            if fd >= 0:
                os.close(fd)
    text = shown.decode("utf-8", "replace")
    assert "evil" in text
    assert not [c for c in text if c in "\x7f\x9b\u202e"], repr(text)
    line = json.loads(text.strip().splitlines()[-1])  # escaped, yet the same JSON value
    assert "x\x9b31m\x7fy\u202e" in json.dumps(line, ensure_ascii=False)
