"""The ``adgate-async`` command (also ``python -m adgate_async``).

    adgate-async history USER_ID            one user's history, as JSON
    adgate-async personalized UID -n 10     one user's ranked offers, as JSON
    adgate-async bulk users.txt -o out.jsonl
    adgate-async demo --users 2000          a bulk run against the embedded stand-in server

Credentials come from flags or the environment (ADGATE_AFF_ID, ADGATE_API_KEY,
ADGATE_WALL_CODE, REVU_WALL_ID); no credential value is ever printed. The progress bar needs
the ``cli`` extra (tqdm); without it the run is the same, minus the bar.

Modules: ``_args`` (parser, exit statuses, credentials), ``_io`` (reading ids and writing
lines off the event loop), ``_bulk`` (bulk and demo).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence

import msgspec

from .. import _config
from .._errors import AdGateError
from ._args import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_TERMINATED,
    EXIT_USAGE,
    UsageError,
    build_parser,
    has_wall,
    session_from,
)
from ._bulk import (
    Stopper,
    Tally,
    bulk,
    demo,
    error_record,
    history_kwargs,
    result_line,
    script_demo_faults,
)
from ._io import OutputError, count_ids, escape_controls, reason

__all__ = [
    "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_OUTPUT", "EXIT_TERMINATED",
    "EXIT_USAGE", "Tally", "build_parser", "error_record", "main", "result_line",
    "script_demo_faults",
]

_count_ids = count_ids  # the older name

_encoder = msgspec.json.Encoder()


# ----------------------------------------------------------------------- single calls


async def _history(args: argparse.Namespace, stopper: Stopper) -> int:
    async with session_from(args, need_adgate=True) as session:
        result = await session.get_history(args.user_id, **history_kwargs(args))
    _print_json(result)
    return EXIT_OK


async def _personalized(args: argparse.Namespace, stopper: Stopper) -> int:
    session = session_from(args, need_adgate=False)
    if not has_wall(args):
        raise UsageError("personalized needs a wall: --wall, --wall-id or REVU_WALL_ID")
    async with session:
        result = await session.get_personalized(
            args.uid, numoffers=args.numoffers, wall=args.wall, sid3=args.sid3,
            device=args.device, ip=args.ip, os_version=args.os_version,
            include_sortmetric=True if args.include_sortmetric else None,
            bid_floor=args.bid_floor, experiment_id=args.experiment_id,
        )
    _print_json(result)
    return EXIT_OK


def _print_json(model: msgspec.Struct) -> None:
    """Indented JSON on stdout; control characters from the server are escaped (the same
    JSON value, harmless on a terminal)."""
    text = msgspec.json.format(_encoder.encode(model), indent=2).decode()
    data = (escape_controls(text) + "\n").encode()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (e.g. captured)
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    sys.stdout.flush()
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError("standard output", reason(exc)) from None


# --------------------------------------------------------------------------- main

_Command = Callable[[argparse.Namespace, Stopper], Awaitable[int]]
_COMMANDS: dict[str, _Command] = {"history": _history, "personalized": _personalized,
                                  "bulk": bulk, "demo": demo}


async def _run(command: _Command, args: argparse.Namespace) -> int:
    """Run one command. bulk and demo handle SIGINT/SIGTERM themselves; for the single calls
    a signal cancels the call."""
    stopper = Stopper()
    task = asyncio.current_task()
    assert task is not None

    def on_signal(first: bool) -> None:
        task.cancel()

    stopper.install(on_signal)
    try:
        return await command(args, stopper)
    except asyncio.CancelledError:
        if stopper.signum is None:
            raise
        print(f"adgate-async: stopped by {stopper.name}", file=sys.stderr)
        return 128 + stopper.signum
    finally:
        stopper.remove()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "verbose", False):
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
        logging.getLogger(_config.LOGGER_NAME).setLevel(logging.DEBUG)
    try:
        return asyncio.run(_run(_COMMANDS[args.command], args))
    except UsageError as exc:
        parser.exit(EXIT_USAGE, f"adgate-async: error: {escape_controls(str(exc))}\n")
    except OutputError as exc:
        print(f"adgate-async: {escape_controls(str(exc))}", file=sys.stderr)
        return EXIT_OUTPUT
    except ValueError as exc:  # InvalidParameterError: a bad argument, before any request
        parser.exit(EXIT_USAGE, f"adgate-async: error: {escape_controls(str(exc))}\n")
    except AdGateError as exc:
        print(f"adgate-async: {type(exc).__name__}: {escape_controls(str(exc))}",
              file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:  # before the signal handlers were in place
        print("adgate-async: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. piped into `head`
        with contextlib.suppress(OSError):
            sys.stdout.close()
        return EXIT_OK
    except OSError as exc:  # the input could not be read mid-run
        print(f"adgate-async: error: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
