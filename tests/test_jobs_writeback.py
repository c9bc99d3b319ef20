"""A part is synced to disk while it is written (jobs._store.EarlyWriteback), so that the
fsync before its rename has little left to do; an error of such a sync fails the part."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from adgate_async.jobs import _store, run_bulk_job_async
from adgate_async.testing import StandInServer

from .test_jobs_resume import config_for
from .test_jobs_shards import check_parts

#: Reads /proc to name the file a descriptor belongs to.
needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc to "
                                "name the file a descriptor belongs to (Linux)")


def synced_files(monkeypatch: pytest.MonkeyPatch, every: int) -> list[str]:
    """A background sync every ``every`` bytes; the list fills with the names of the files
    synced (each then really synced)."""
    synced: list[str] = []

    def recording(fd: int) -> None:
        synced.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        os.fsync(fd)

    monkeypatch.setattr(_store, "WRITEBACK_BYTES", every)
    monkeypatch.setattr(_store, "_datasync", recording)
    return synced


@needs_proc
async def test_parts_are_synced_while_they_are_written(
    adgate_server: StandInServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = synced_files(monkeypatch, 4096)
    ids = [f"w{i}" for i in range(60)]
    out = tmp_path / "parts"
    summary = await run_bulk_job_async(config_for(adgate_server), ids, out, shard_size=20)
    assert summary.complete
    check_parts(out, ids, 20, complete=True)
    # Each part, under its temporary name (before the rename), more than once as it grew.
    for k in range(3):
        assert synced.count(f".part-{k:05d}.jsonl.tmp") >= 2, synced


async def test_a_failed_background_sync_fails_its_part(
    adgate_server: StandInServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(_store, "WRITEBACK_BYTES", 4096)
    monkeypatch.setattr(_store, "_datasync", failing)
    ids = [f"f{i}" for i in range(60)]
    out = tmp_path / "parts"
    summary = await run_bulk_job_async(config_for(adgate_server), ids, out, shard_size=20)
    assert not summary.complete
    assert summary.exit_status == 3
    assert summary.output_error is not None
    assert os.strerror(errno.EIO) in summary.output_error
    assert not list(out.glob("part-*"))  # no part that looks whole
    assert not (out / "_SUCCESS").exists()

    monkeypatch.undo()  # the disk is well again: resume finishes the job
    summary = await run_bulk_job_async(config_for(adgate_server), ids, out, shard_size=20,
                                       resume=True)
    assert summary.complete
    check_parts(out, ids, 20, complete=True)


def test_a_file_without_a_descriptor_is_left_alone() -> None:
    class Upload:  # an fsspec upload buffer, say
        def fileno(self) -> int:
            raise OSError("no descriptor")

        def flush(self) -> None:
            raise AssertionError("never flushed for a sync")

    writeback = _store.EarlyWriteback(Upload())  # type: ignore[arg-type]
    writeback.wrote(_store.WRITEBACK_BYTES * 3)
    writeback.wait()


@needs_proc
async def test_parquet_parts_are_synced_between_row_groups(
    adgate_server: StandInServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="the parquet extra is not installed")
    from adgate_async.jobs import _parquet

    synced = synced_files(monkeypatch, 1024)
    monkeypatch.setattr(_parquet, "ROW_GROUP", 5)
    ids = [f"q{i}" for i in range(40)]
    out = tmp_path / "parts"
    summary = await run_bulk_job_async(config_for(adgate_server), ids, out, shard_size=20,
                                       format="parquet")
    assert summary.complete
    for k in range(2):
        assert synced.count(f".part-{k:05d}.parquet.tmp") >= 2, synced
        table = pq.read_table(out / f"part-{k:05d}.parquet")
        assert sorted(table.column("index").to_pylist()) == list(range(20 * k, 20 * k + 20))
