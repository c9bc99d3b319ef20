"""Issue 11, item 5: a directory of parts named by an fsspec URL (``-o file:///…/``).

Dask runs on a real LocalCluster of two worker processes on 127.0.0.1, as in
test_jobs_dask.py; ``file://`` is the only scheme tested against a real store (no object
store is at hand here). ``memory://`` (fsspec's in-process file system, which has no file
descriptors and renames by copying) runs the single-process path through a store that is
not the local disk; it is refused where other processes would have to write to it.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from adgate_async.jobs import JobSetupError, run_bulk_job_async
from adgate_async.jobs._store import FsspecStore, LocalStore, store_for
from adgate_async.testing import StandInServer

from . import test_jobs_dask
from .test_cli import env_for, run_cli, urls
from .test_jobs_resume import config_for
from .test_jobs_shards import check_parts, cli_parts_job, part_lines

# The fixtures of test_jobs_dask.py (a real LocalCluster of 2 worker processes, and a client
# of it), started again for this module.
cluster = test_jobs_dask.cluster
client = test_jobs_dask.client


def url(path: Path) -> str:
    return path.as_uri() + "/"


async def test_cli_dask_writes_parts_to_a_file_url(
    adgate_server: StandInServer, tmp_path: Path, cluster: Any
) -> None:
    out = tmp_path / "parts"
    await cli_parts_job(adgate_server, tmp_path, "f", 150, url(out),
                        "--dask", cluster.scheduler_address)
    assert (out / "_job.json").exists()


async def test_resume_on_dask_through_a_file_url(
    adgate_server: StandInServer, tmp_path: Path, client: Any
) -> None:
    ids = [f"r{i}" for i in range(160)]
    out = tmp_path / "parts"
    summary = await run_bulk_job_async(config_for(adgate_server), ids, url(out),
                                       format="parquet", shard_size=40, dask=client)
    assert summary.complete
    assert summary.shards == 4
    # As if the job had been killed: a part missing, a half-written one left behind.
    (out / "part-00002.parquet").unlink()
    (out / "_SUCCESS").unlink()
    (out / ".part-00002.parquet.12345.tmp").write_bytes(b"PAR1")
    before = adgate_server.count()
    summary = await run_bulk_job_async(config_for(adgate_server), ids, url(out),
                                       format="parquet", shard_size=40, resume=True,
                                       dask=client)
    assert summary.complete
    assert (summary.shards, summary.resumed) == (1, 120)
    assert adgate_server.count() - before == 40
    pq = pytest.importorskip("pyarrow.parquet",
                             reason="the parquet extra (pyarrow) is not installed")
    table = pq.read_table(str(out), columns=["index", "user_id"])  # skips _ and . names
    assert sorted(table.column("index").to_pylist()) == list(range(160))
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


async def test_processes_write_parts_to_a_file_url(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    ids = [f"p{i}" for i in range(90)]
    out = tmp_path / "parts"
    summary = await run_bulk_job_async(config_for(adgate_server), ids, url(out),
                                       shard_size=30, compress="gzip", processes=2)
    assert summary.complete, summary
    check_parts(out, ids, 30, complete=True)
    assert sorted(p.name for p in out.glob("part-*")) == [
        f"part-0000{k}.jsonl.gz" for k in range(3)]


async def test_a_store_without_descriptors_single_process_and_resume(
    adgate_server: StandInServer
) -> None:
    fsspec = pytest.importorskip("fsspec", reason="fsspec (the dask extra) is not installed")
    memory = fsspec.filesystem("memory")
    root = "memory://adgate-test-jobs/out/"
    ids = [f"m{i}" for i in range(25)]
    try:
        summary = await run_bulk_job_async(config_for(adgate_server), ids, root,
                                           shard_size=10)
        assert summary.complete
        names = sorted(p.rsplit("/", 1)[-1] for p in memory.ls("/adgate-test-jobs/out",
                                                               detail=False))
        assert names == ["_SUCCESS", "_job.json", "part-00000.jsonl", "part-00001.jsonl",
                         "part-00002.jsonl"]
        memory.rm_file("/adgate-test-jobs/out/part-00001.jsonl")
        memory.rm_file("/adgate-test-jobs/out/_SUCCESS")
        before = adgate_server.count()
        summary = await run_bulk_job_async(config_for(adgate_server), ids, root,
                                           shard_size=10, resume=True)
        assert summary.complete
        assert (summary.shards, summary.resumed) == (1, 15)
        assert adgate_server.count() - before == 10
        part = memory.cat_file("/adgate-test-jobs/out/part-00001.jsonl")
        lines = [line for line in part.splitlines() if line]
        assert sorted(int(line.split(b",")[0].split(b":")[1]) for line in lines) == list(
            range(10, 20))
    finally:
        memory.rm("/adgate-test-jobs", recursive=True)


async def test_urls_that_cannot_work_are_refused_before_any_request(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    config = config_for(adgate_server)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("memory://jobs/out/", {"shard_size": 5, "processes": 2}, "one process only"),
        ("memory://jobs/out/", {"shard_size": 5, "dask": "tcp://127.0.0.1:1"},
         "one process only"),
        ((tmp_path / "one.jsonl").as_uri(), {}, "must name a directory of parts"),
        ("nope://bucket/out/", {"shard_size": 5}, "Protocol not known: nope"),
    ]
    for output, how, message in cases:
        with pytest.raises(JobSetupError, match=message):
            await run_bulk_job_async(config, ["u1"], output, **how)
    assert adgate_server.count() == 0
    assert not any(p for p in tmp_path.iterdir())  # noqa: ASYNC240


async def test_cli_refuses_a_per_process_url_with_workers(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    (tmp_path / "ids.txt").write_text("u1\nu2\n")
    rc, _, stderr = await run_cli("bulk", str(tmp_path / "ids.txt"), "-o", "memory://x/out/",
                                  "--shard-size", "1", "--processes", "2",
                                  *urls(adgate_server), env=env_for(adgate_server))
    assert rc == 2, stderr
    assert "memory:// holds its files in one process only" in stderr
    assert adgate_server.count() == 0


def test_stores_travel_by_value(tmp_path: Path) -> None:
    local = store_for(str(tmp_path))
    assert type(local) is LocalStore
    remote = store_for(url(tmp_path / "d"))
    assert isinstance(remote, FsspecStore)
    again = pickle.loads(pickle.dumps(remote))
    assert isinstance(again, FsspecStore)
    assert (again.url, again.root, again.local) == (remote.url, remote.root, True)
    again.makedirs()
    fh = again.open_write(".x.tmp")
    fh.write(b"{}\n")
    again.finish(fh)
    again.rename(".x.tmp", "x")
    assert again.listdir() == ["x"]
    assert part_lines(tmp_path / "d" / "x") == [{}]
