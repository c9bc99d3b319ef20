"""Item 2 of issue 11: sharded output (parts renamed into place once whole, _SUCCESS),
resume by parts, and gzip."""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import signal
import sys
from pathlib import Path

import pytest

from adgate_async.jobs import JobSetupError, run_bulk_job_async
from adgate_async.testing import Answer, StandInServer

from .test_cli import env_for, run_cli, urls
from .test_jobs_resume import config_for


def part_lines(path: Path) -> list[dict[str, object]]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return [json.loads(line) for line in data.splitlines()]


def check_parts(directory: Path, ids: list[str], size: int, *, complete: bool) -> None:
    """Every part in place holds exactly its range of positions, each once."""
    parts = sorted(directory.glob("part-*"))
    for part in parts:
        k = int(part.name.split(".")[0].removeprefix("part-"))
        lines = part_lines(part)
        expected = list(range(k * size, min((k + 1) * size, len(ids))))
        assert sorted(int(str(line["index"])) for line in lines) == expected, part.name
        assert all(line["user_id"] == ids[int(str(line["index"]))] for line in lines)
    if complete:
        assert len(parts) == -(-len(ids) // size)
        assert json.loads((directory / "_SUCCESS").read_text())["users"] == len(ids)
        assert not list(directory.glob(".*.tmp"))


async def cli_parts_job(server: StandInServer, tmp_path: Path, prefix: str, count: int,
                        output: str, *flags: str) -> list[str]:
    """``adgate-async bulk`` of ``count`` ids (``prefix0`` ..., ``prefix7`` banned) into
    parts of 50 at ``output`` (``tmp_path/parts``, as a path or a URL), with ``flags``: it
    must succeed with every id once and the ban counted. Returns the ids."""
    ids = [f"{prefix}{i}" for i in range(count)]
    server.always(f"{prefix}7", Answer.ban())
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    rc, _, stderr = await run_cli("bulk", str(tmp_path / "ids.txt"), "-o", output,
                                  "--shard-size", "50", *flags, *urls(server),
                                  env=env_for(server))
    assert rc == 0, stderr
    assert f"users {count}  ok {count - 1}  errors 1 (UserBannedError 1)" in stderr
    check_parts(tmp_path / "parts", ids, 50, complete=True)
    assert server.count() == count
    return ids


async def test_parts_cover_position_ranges_and_success_marks_the_end(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    ids = [f"p{i}" for i in range(35)]
    out = tmp_path / "parts"
    summary = await run_bulk_job_async(config_for(adgate_server), ids, out, shard_size=10)
    assert summary.shards == 4
    assert summary.complete
    assert sorted(p.name for p in out.iterdir()) == [
        "_SUCCESS", "_job.json", "part-00000.jsonl", "part-00001.jsonl", "part-00002.jsonl",
        "part-00003.jsonl"]
    check_parts(out, ids, 10, complete=True)


async def test_resume_skips_parts_in_place_and_redoes_the_others(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    ids = [f"r{i}" for i in range(40)]
    out = tmp_path / "parts"
    await run_bulk_job_async(config_for(adgate_server), ids, out, shard_size=10)
    (out / "part-00001.jsonl").unlink()
    (out / "_SUCCESS").unlink()
    (out / ".part-00001.jsonl.tmp").write_bytes(b'{"index":10,"user_id":"r10","hi')
    adgate_server.reset_counters()
    summary = await run_bulk_job_async(config_for(adgate_server), ids, out, shard_size=10,
                                       resume=True)
    assert (summary.shards, summary.shards_skipped, summary.resumed) == (1, 3, 30)
    assert adgate_server.count() == 10
    check_parts(out, ids, 10, complete=True)
    with pytest.raises(JobSetupError, match="not empty"):
        await run_bulk_job_async(config_for(adgate_server), ids, out, shard_size=10)
    with pytest.raises(JobSetupError, match="written with"):
        await run_bulk_job_async(config_for(adgate_server), ids, out, shard_size=20, resume=True)


async def test_gzip_parts_and_a_gzip_single_file(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    ids = [f"g{i}" for i in range(25)]
    out = tmp_path / "parts"
    summary = await run_bulk_job_async(config_for(adgate_server), ids, out, shard_size=10,
                                       compress="gzip")
    assert summary.complete
    assert len(list(out.glob("part-*.jsonl.gz"))) == 3
    check_parts(out, ids, 10, complete=True)
    single = tmp_path / "out.jsonl.gz"
    await run_bulk_job_async(config_for(adgate_server), ids, single)
    lines = [json.loads(line) for line in gzip.decompress(single.read_bytes()).splitlines()]
    assert sorted(int(line["index"]) for line in lines) == list(range(25))


async def test_cli_sharded_output_survives_kill_9_and_resumes(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    rng = random.Random(2)
    ids = [f"c{i}" for i in range(1500)]
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    out = tmp_path / "parts"
    args = ("-m", "adgate_async", "bulk", str(ids_file), "-o", str(out), "--shard-size",
            "100", "--resume", "--rate", "600", *urls(adgate_server))
    for _ in range(5):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *args, env=env_for(adgate_server), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        for _ in range(3000):  # until a part of its own is being written
            if proc.returncode is not None or list(out.glob(".part-*.tmp")):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(rng.uniform(0.05, 0.4))
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.communicate(), timeout=60)
        check_parts(out, ids, 100, complete=False)  # a part in place is always whole
        assert not (out / "_SUCCESS").exists() or proc.returncode == 0
    rc, _, stderr = await run_cli("bulk", str(ids_file), "-o", str(out), "--shard-size",
                                  "100", "--resume", *urls(adgate_server),
                                      env=env_for(adgate_server))
    assert rc == 0, stderr
    check_parts(out, ids, 100, complete=True)
