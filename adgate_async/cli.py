"""The ``adgate-async`` command (also ``python -m adgate_async``).

    adgate-async history USER_ID            one user's history, as JSON
    adgate-async personalized UID -n 10     one user's ranked offers, as JSON
    adgate-async bulk users.txt -o out.jsonl
    adgate-async demo --users 2000          a bulk run against the embedded stand-in server

Credentials come from flags or the environment (ADGATE_AFF_ID, ADGATE_API_KEY,
ADGATE_WALL_CODE, REVU_WALL_ID); the key is never printed. The progress bar needs the
``cli`` extra (tqdm); without it the run is the same, minus the bar.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import os
import stat
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

import msgspec

from . import _config
from ._bulk import UserResult
from ._errors import AdGateError, APIStatusError
from ._session import AsyncSession
from ._version import __version__

EXIT_OK = 0
EXIT_FAILED = 1  # the call failed, or (bulk) at least one user failed
EXIT_USAGE = 2  # bad arguments or missing credentials
EXIT_INTERRUPTED = 130

_EPILOG = """\
exit status: 0 success; 1 the call failed, or (bulk) at least one user got an error;
2 bad arguments or missing credentials; 130 interrupted.

environment: ADGATE_AFF_ID, ADGATE_API_KEY, ADGATE_WALL_CODE, REVU_WALL_ID stand in for
--aff-id, --api-key, --wall-code, --wall-id (prefer the variable for the key: command-line
arguments are visible to other users of the machine).
"""

_encoder = msgspec.json.Encoder()


class UsageError(Exception):
    """A problem with the command line itself (exit status 2)."""


# ---------------------------------------------------------------------------- parsing


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _offer_ids(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be comma-separated integers such as 1477425,148199, got {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    creds = argparse.ArgumentParser(add_help=False)
    group = creds.add_argument_group("credentials and connection")
    group.add_argument("--aff-id", type=int, help="affiliate id (env ADGATE_AFF_ID)")
    group.add_argument("--api-key", help="AdGate API key (env ADGATE_API_KEY; never printed)")
    group.add_argument("--wall-code", help="offer wall code (env ADGATE_WALL_CODE)")
    group.add_argument("--wall-id", type=int, help="RevU wall id (env REVU_WALL_ID)")
    group.add_argument("--adgate-base-url", default=_config.ADGATE_BASE_URL)
    group.add_argument("--revu-base-url", default=_config.REVU_BASE_URL)
    group.add_argument("--timeout", type=float, default=_config.TIMEOUT,
                       help="seconds per attempt (default %(default)s)")
    group.add_argument("--max-retries", type=int, default=_config.MAX_RETRIES,
                       help="retries after the first attempt (default %(default)s)")
    group.add_argument("-v", "--verbose", action="store_true",
                       help="log every attempt to stderr (URLs shown with api_key=***)")

    history_opts = argparse.ArgumentParser(add_help=False)
    group = history_opts.add_argument_group("history options")
    group.add_argument("--lang", help="Accept-Language value, e.g. 'en-US,en;q=0.5'")
    group.add_argument("--continue-playing", action="store_true",
                       help="only the offers for a 'Continue playing' section")
    group.add_argument("--offer-ids", type=_offer_ids, help="filter, e.g. 1477425,148199")

    bulk_opts = argparse.ArgumentParser(add_help=False)
    group = bulk_opts.add_argument_group("bulk options")
    group.add_argument("--concurrency", type=_positive_int,
                       help=f"requests in flight (default {_config.BULK_CONCURRENCY})")
    group.add_argument("--rate", type=float, help="start at most this many users per second")
    group.add_argument("--ordered", action="store_true",
                       help="write results in input order (default: as they complete)")
    group.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bar on stderr (default: when stderr is a terminal)")

    parser = argparse.ArgumentParser(
        prog="adgate-async",
        description="AdGate Media Get History and RevU Get Personalized from the shell.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cmd = commands.add_parser("history", parents=[creds, history_opts], epilog=_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              help="print one user's history as JSON")
    cmd.add_argument("user_id")

    cmd = commands.add_parser("personalized", parents=[creds], epilog=_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              help="print one user's ranked offers as JSON")
    cmd.add_argument("uid")
    cmd.add_argument("-n", "--numoffers", type=int, required=True, help="1..500")
    cmd.add_argument("--wall", type=int, help="wall id (default: --wall-id)")
    cmd.add_argument("--sid3")
    cmd.add_argument("--device", choices=sorted(_config.DEVICES))
    cmd.add_argument("--ip", help="the user's IPv4 address")
    cmd.add_argument("--os-version", type=float)
    cmd.add_argument("--include-sortmetric", action="store_true")
    cmd.add_argument("--bid-floor", type=float)
    cmd.add_argument("--experiment-id")

    cmd = commands.add_parser(
        "bulk", parents=[creds, history_opts, bulk_opts], epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="histories of many users: ids one per line in, JSON Lines out",
        description="Read user ids one per line (blank lines are skipped) and write one JSON "
                    'line per user: {"user_id": ..., "history": {...}} or {"user_id": ..., '
                    '"error": {"type": ..., "status": ..., "code": ...}}. A summary goes to '
                    "stderr at the end.",
    )
    cmd.add_argument("file", nargs="?", default="-", help="file of user ids, or - for stdin")
    cmd.add_argument("-o", "--output", default="-",
                     help="JSON Lines output file (default: stdout)")

    cmd = commands.add_parser(
        "demo", parents=[bulk_opts], epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="bulk run against the embedded stand-in server (no credentials, no network)",
        description="Start the embedded stand-in server, fetch the history of N generated "
                    "users (1 in 25 banned, 1 in 10 answering 500 once before recovering, "
                    "1 in 97 unknown), and print the summary. Output is discarded unless "
                    "-o is given. Exits 0 when every user is accounted for.",
    )
    cmd.add_argument("--users", type=_positive_int, default=2000,
                     help="how many users (default %(default)s)")
    cmd.add_argument("-o", "--output", help="also write the JSON Lines here (- for stdout)")
    return parser


def _session_from(args: argparse.Namespace, *, need_adgate: bool) -> AsyncSession:
    def pick(flag: str, env: str) -> str | None:
        value = getattr(args, flag)
        return str(value) if value is not None else os.environ.get(env) or None

    aff_id = pick("aff_id", "ADGATE_AFF_ID")
    api_key = pick("api_key", "ADGATE_API_KEY")
    wall_code = pick("wall_code", "ADGATE_WALL_CODE")
    wall_id = pick("wall_id", "REVU_WALL_ID")
    if need_adgate:
        missing = [f"--{flag} or {env}" for flag, env, value in (
            ("aff-id", "ADGATE_AFF_ID", aff_id), ("api-key", "ADGATE_API_KEY", api_key),
            ("wall-code", "ADGATE_WALL_CODE", wall_code)) if not value]
        if missing:
            raise UsageError("missing credentials: " + "; ".join(missing))
    try:
        return AsyncSession(
            # RevU takes no AdGate credentials: placeholders keep the session whole.
            aff_id=int(aff_id) if aff_id else 1,
            api_key=api_key or "unused",
            wall_code=wall_code or "unused",
            wall_id=int(wall_id) if wall_id else None,
            adgate_base_url=args.adgate_base_url,
            revu_base_url=args.revu_base_url,
            timeout=args.timeout,
            max_retries=args.max_retries,
            max_connections=max(_config.MAX_CONNECTIONS, getattr(args, "concurrency", 0) or 0),
        )
    except ValueError as exc:  # int() of an env var, or a rule of the session
        raise UsageError(str(exc)) from None


def _history_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "lang": args.lang,
        "continue_playing": True if args.continue_playing else None,
        "offer_ids": args.offer_ids,
    }


# ----------------------------------------------------------------------- single calls


async def _history(args: argparse.Namespace) -> int:
    async with _session_from(args, need_adgate=True) as session:
        result = await session.get_history(args.user_id, **_history_kwargs(args))
    _print_json(result)
    return EXIT_OK


async def _personalized(args: argparse.Namespace) -> int:
    async with _session_from(args, need_adgate=False) as session:
        result = await session.get_personalized(
            args.uid, numoffers=args.numoffers, wall=args.wall, sid3=args.sid3,
            device=args.device, ip=args.ip, os_version=args.os_version,
            include_sortmetric=True if args.include_sortmetric else None,
            bid_floor=args.bid_floor, experiment_id=args.experiment_id,
        )
    _print_json(result)
    return EXIT_OK


def _print_json(model: msgspec.Struct) -> None:
    sys.stdout.buffer.write(msgspec.json.format(_encoder.encode(model), indent=2) + b"\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------- bulk


def error_record(error: AdGateError) -> dict[str, Any]:
    """The JSON shape of one user's error in the bulk output."""
    record: dict[str, Any] = {"type": type(error).__name__,
                              "status": getattr(error, "status", None), "code": None,
                              "message": error.message}
    if isinstance(error, APIStatusError):
        record.update(status=error.status, code=error.code, support_id=error.support_id)
    attempts = getattr(error, "attempts", None)
    if attempts is not None:
        record["attempts"] = attempts
    return record


def result_line(result: UserResult) -> bytes:
    if result.error is None:
        doc: dict[str, Any] = {"user_id": result.user_id, "history": result.history}
    else:
        doc = {"user_id": _printable(result.user_id), "error": error_record(result.error)}
    return _encoder.encode(doc) + b"\n"


def _printable(user_id: str) -> str:
    """An id read from bytes that were not UTF-8, with those bytes shown as ``\\xNN``."""
    if user_id.isascii():
        return user_id
    return user_id.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class Tally:
    """What the summary reports."""

    def __init__(self) -> None:
        self.users = 0
        self.ok = 0
        self.errors: Counter[str] = Counter()
        self.started = time.perf_counter()
        self.elapsed = 0.0

    def add(self, result: UserResult) -> None:
        self.users += 1
        if result.error is None:
            self.ok += 1
        else:
            self.errors[type(result.error).__name__] += 1

    def summary(self) -> str:
        rate = self.users / self.elapsed if self.elapsed > 0 else 0.0
        errors = ", ".join(f"{name} {n}" for name, n in self.errors.most_common()) or "none"
        return (f"users {self.users}  ok {self.ok}  errors {sum(self.errors.values())} "
                f"({errors})  elapsed {self.elapsed:.2f} s  users/s {rate:,.0f}")


class _Progress:
    """A tqdm bar when tqdm is installed and wanted; otherwise nothing at all."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self._bar: Any = None
        self._errors = 0
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            print("adgate-async: install the 'cli' extra (tqdm) for a progress bar",
                  file=sys.stderr)
            return
        self._bar = tqdm(total=total, unit="user", file=sys.stderr, dynamic_ncols=True,
                         mininterval=0.2, smoothing=0.1)
        self._bar.set_postfix_str("errors 0", refresh=False)

    def __call__(self, done: int, total: int | None, errors: int) -> None:
        if self._bar is None:
            return
        if errors != self._errors:
            self._errors = errors
            self._bar.set_postfix_str(f"errors {errors}", refresh=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _read_ids(stream: IO[str], skipped: list[int]) -> Iterator[str]:
    for line in stream:
        user_id = line.rstrip("\r\n")
        if user_id:
            yield user_id
        else:
            skipped[0] += 1


def _count_ids(path: str) -> int | None:
    """Ids in a regular file; None for anything else (a pipe can be read only once)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as fh:
            return sum(1 for line in fh if line.rstrip(b"\r\n"))
    except OSError:
        return None


async def run_bulk(
    session: AsyncSession,
    ids: Iterator[str],
    out: IO[bytes] | None,
    *,
    total: int | None,
    args: argparse.Namespace,
    history_kwargs: dict[str, Any],
) -> Tally:
    """Fetch every id, write one JSON line per user to ``out``; return the tally."""
    tally = Tally()
    progress = _Progress(total, sys.stderr.isatty() if args.progress is None else args.progress)

    def on_progress(done: int, _total: int | None, errors: int) -> None:
        progress(done, total, errors)

    write: Callable[[bytes], object] = out.write if out is not None else (lambda _: None)
    try:
        async for result in session.iter_users(
            ids, concurrency=args.concurrency, ordered=args.ordered, max_per_second=args.rate,
            on_progress=on_progress, **history_kwargs,
        ):
            tally.add(result)
            write(result_line(result))
    finally:
        progress.close()
        tally.elapsed = time.perf_counter() - tally.started
    return tally


def _open_input(path: str, stack: contextlib.ExitStack) -> tuple[IO[str], int | None]:
    """The id source and, for a regular file, how many ids it holds (for the ETA)."""
    if path == "-":
        if isinstance(sys.stdin, io.TextIOWrapper):  # bad UTF-8: a per-user error, not a crash
            sys.stdin.reconfigure(errors="surrogateescape")
        return sys.stdin, None
    try:
        source = stack.enter_context(  # closed by the caller's ExitStack
            open(path, encoding="utf-8", errors="surrogateescape", newline="")  # noqa: SIM115
        )
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    return source, _count_ids(path)


@contextlib.contextmanager
def _open_output(path: str | None) -> Iterator[IO[bytes] | None]:
    if path is None:
        yield None
    elif path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
    else:
        with open(path, "wb") as fh:
            yield fh


async def _bulk(args: argparse.Namespace) -> int:
    history_kwargs = _history_kwargs(args)
    skipped = [0]
    session = _session_from(args, need_adgate=True)
    with contextlib.ExitStack() as stack:
        source, total = _open_input(args.file, stack)
        out = stack.enter_context(_open_output(args.output))
        async with session:
            tally = await run_bulk(session, _read_ids(source, skipped), out, total=total,
                                   args=args, history_kwargs=history_kwargs)
    note = f"  (skipped {skipped[0]} blank lines)" if skipped[0] else ""
    print(tally.summary() + note, file=sys.stderr)
    return EXIT_OK if tally.users == tally.ok else EXIT_FAILED


# --------------------------------------------------------------------------- demo


def demo_ids(users: int) -> Iterator[str]:
    return (f"demo-{i:07d}" for i in range(users))


def script_demo_faults(server: Any, users: int) -> None:
    """1 in 25 banned, 1 in 10 answering 500 once (then recovering), 1 in 97 unknown."""
    from .testing import Answer

    ban = Answer.ban("USER_BANNED")
    missing = Answer.error(404, message="no such user")
    flaky = Answer.error(500)
    for i, user_id in enumerate(demo_ids(users)):
        if i % 25 == 7:
            server.always(user_id, ban)
        elif i % 97 == 5:
            server.always(user_id, missing)
        elif i % 10 == 3:
            server.script(user_id, flaky)


async def _demo(args: argparse.Namespace) -> int:
    from .testing import StandInServer

    async with StandInServer(record=False) as server:
        script_demo_faults(server, args.users)
        concurrency = args.concurrency or _config.BULK_CONCURRENCY
        session = AsyncSession(
            aff_id=60000, api_key="demo-key", wall_code="demo", retry_backoff=0.01,
            retry_backoff_max=0.1, max_connections=max(concurrency, _config.MAX_CONNECTIONS),
            **server.session_urls(),
        )
        with _open_output(args.output) as out:
            async with session:
                tally = await run_bulk(session, demo_ids(args.users), out, total=args.users,
                                       args=args, history_kwargs={})
        stats = session.stats
    print(f"demo against the stand-in server at {server.url}", file=sys.stderr)
    print(tally.summary(), file=sys.stderr)
    print(f"requests {stats.requests}  attempts {stats.attempts}  retries {stats.retries}  "
          f"bans {stats.bans}", file=sys.stderr)
    return EXIT_OK if tally.users == args.users else EXIT_FAILED


# --------------------------------------------------------------------------- main

_COMMANDS = {"history": _history, "personalized": _personalized, "bulk": _bulk,
             "demo": _demo}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "verbose", False):
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
        logging.getLogger(_config.LOGGER_NAME).setLevel(logging.DEBUG)
    try:
        return asyncio.run(_COMMANDS[args.command](args))
    except UsageError as exc:
        parser.exit(EXIT_USAGE, f"adgate-async: error: {exc}\n")
    except ValueError as exc:  # InvalidParameterError: a bad argument, before any request
        parser.exit(EXIT_USAGE, f"adgate-async: error: {exc}\n")
    except AdGateError as exc:
        print(f"adgate-async: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("adgate-async: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. piped into `head`
        with contextlib.suppress(OSError):
            sys.stdout.close()
        return EXIT_OK
