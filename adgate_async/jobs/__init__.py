"""Bulk jobs: the history of many users into files that a killed run can resume.

    from adgate_async.jobs import SessionConfig, run_bulk_job

    config = SessionConfig(aff_id=60000, api_key=KEY, wall_code="nQug")
    summary = run_bulk_job(config, "users.txt", "out/", shard_size=100_000, resume=True)
    print(summary.line(), summary.exit_status)

Modules: ``_run`` (the job), ``_summary`` (its outcome and stop), ``_sinks`` (opening
the output), ``_settings`` (SessionConfig), ``_single`` (one JSON Lines
file, and resuming it), ``_shards`` (a directory of parts), ``_parallel`` (parts in worker
processes, with a shared rate, pause and stop), ``_parquet`` (Parquet parts),
``_dask`` (parts as Dask tasks), ``_parts`` (the input cut into parts), ``_store`` (a
directory of parts at a path or an fsspec URL), ``_done`` (the bitmap of done positions),
``_failfast``, ``_tally`` (a run's counts and fail fast), ``_records`` (the line shape),
``_lines`` (the writer thread), ``_input`` (reading ids).
"""

from ._done import DoneSet
from ._errors import JobSetupError
from ._failfast import DEFAULT_FAIL_FAST
from ._records import error_record, result_line
from ._run import run_bulk_job, run_bulk_job_async
from ._settings import SessionConfig
from ._shards import DEFAULT_SHARD_SIZE
from ._summary import (
    EXIT_ERRORS,
    EXIT_FAIL_FAST,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUTPUT,
    JobControl,
    JobSummary,
)

__all__ = [
    "DEFAULT_FAIL_FAST",
    "DEFAULT_SHARD_SIZE",
    "EXIT_ERRORS",
    "EXIT_FAIL_FAST",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "DoneSet",
    "JobControl",
    "JobSetupError",
    "JobSummary",
    "SessionConfig",
    "error_record",
    "result_line",
    "run_bulk_job",
    "run_bulk_job_async",
]
