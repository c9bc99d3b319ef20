"""The command line of ``adgate-async``: the parser, its help text, and the credentials.

No value of a credential (flag or variable) is ever printed: bad values are reported by the
name of the flag or variable and the rule they broke, and the parser's own error messages
are scrubbed of any credential value as a last line of defence.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, NoReturn

from .. import _config, _env
from .._errors import InvalidParameterError
from .._session import AsyncSession
from .._version import __version__
from ..jobs import SessionConfig

EXIT_OK = 0
EXIT_FAILED = 1  # the call failed, or (bulk --strict) at least one user failed
EXIT_USAGE = 2  # bad arguments or missing credentials
EXIT_OUTPUT = 3  # the output could not be opened or written
EXIT_FAIL_FAST = 4  # bulk stopped early: the service looked down (--fail-fast)
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C): 128 + 2
EXIT_TERMINATED = 143  # SIGTERM: 128 + 15

_EPILOG = """\
exit status:
  0    success (bulk: every user got a line, bans, 404s and errors after
       retries included; the summary counts the errors)
  1    the call failed, or (bulk --strict) at least one user got an error line
  2    bad arguments or missing credentials (nothing was sent), or an existing
       output without --resume or --overwrite (left untouched)
  3    the output could not be written (the summary says how many lines were)
  4    bulk stopped early: the service looked down (--fail-fast); what was done
       is written, --resume continues
  130  interrupted by SIGINT (Ctrl-C)
  143  stopped by SIGTERM

On SIGINT or SIGTERM, bulk takes no more ids, writes every answer already received (waiting \
a moment for requests in flight; a second signal stops at once) and prints the summary.

environment: ADGATE_AFF_ID, ADGATE_API_KEY, ADGATE_WALL_CODE, REVU_WALL_ID, ADGATE_BASE_URL, \
REVU_BASE_URL stand in for --aff-id, --api-key, --wall-code, --wall-id, --adgate-base-url, \
--revu-base-url. Prefer the variable for the key: command-line \
arguments are visible to other users of the machine. No credential value is ever printed.
"""

#: flag -> (namespace attribute, environment variable)
CREDENTIALS = {
    "--aff-id": ("aff_id", _env.AFF_ID),
    "--api-key": ("api_key", _env.API_KEY),
    "--wall-code": ("wall_code", _env.WALL_CODE),
    "--wall-id": ("wall_id", _env.WALL_ID),
}
#: flag -> (namespace attribute, environment variable, default) of the base URLs
BASE_URLS = {
    "--adgate-base-url": ("adgate_base_url", _env.ADGATE_BASE_URL, _config.ADGATE_BASE_URL),
    "--revu-base-url": ("revu_base_url", _env.REVU_BASE_URL, _config.REVU_BASE_URL),
}
#: the session's parameter names for the same credentials
_PARAM_TO_FLAG = {attr: flag for flag, (attr, _) in CREDENTIALS.items()}


class UsageError(Exception):
    """A problem with the command line itself (exit status 2)."""


class _Formatter(argparse.HelpFormatter):
    """Wraps descriptions and epilogs to the terminal, paragraph by paragraph; a line that
    starts with spaces is kept as written (the exit status table)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        for paragraph in text.split("\n\n"):
            lines = paragraph.strip("\n").splitlines()
            if any(line.startswith(" ") for line in lines[1:]):
                out.append("\n".join(indent + line for line in lines))
            else:
                out.append(textwrap.fill(" ".join(paragraph.split()), width,
                                         initial_indent=indent, subsequent_indent=indent))
        return "\n\n".join(out)


def _secrets(argv: Sequence[str]) -> list[str]:
    """Every credential value on the command line or in the environment (4+ characters:
    shorter ones would blank out ordinary numbers in a message)."""
    found = [os.environ.get(env, "") for _, env in CREDENTIALS.values()]
    for i, arg in enumerate(argv):
        for flag in CREDENTIALS:
            if arg == flag and i + 1 < len(argv):
                found.append(argv[i + 1])
            elif arg.startswith(flag + "="):
                found.append(arg[len(flag) + 1:])
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose error messages never show a credential value."""

    secrets: ClassVar[list[str]] = []

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> argparse.Namespace:
        argv = list(sys.argv[1:] if args is None else args)
        Parser.secrets = _secrets(argv)
        ns: argparse.Namespace
        ns, extras = self.parse_known_args(argv, namespace)
        if extras:
            # Name unknown options, but never echo a bare value: it may be a credential.
            options = [a.split("=", 1)[0] for a in extras if a.startswith("-")]
            values = len(extras) - len(options)
            text = ", ".join(options)
            if values:
                text += (" and " if text else "") + f"{values} value(s) (not shown)"
            self.error(f"unrecognized arguments: {text}")
        return ns

    def error(self, message: str) -> NoReturn:
        for secret in Parser.secrets:
            message = message.replace(secret, "***")
        super().error(message)


def _positive_int(name: str, maximum: int | None = None) -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:  # also a string of more digits than Python converts
            value = 0
        if value < 1:  # the value is not shown: it may be a credential in the wrong place
            raise argparse.ArgumentTypeError("must be a positive integer")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be a positive integer up to {maximum:,}")
        return value

    convert.__name__ = name
    return convert


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError("must be an integer >= 0")
    return value


def _retry_budget(text: str) -> float | None:
    """``--retry-budget``: a share from 0 to 1; 0 or ``none`` turn the cap off."""
    if text.strip().lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:  # NaN too
        raise argparse.ArgumentTypeError("must be a number from 0 to 1, or none (0 or none: "
                                         "no cap)")
    return value or None


def _offer_ids(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            "must be comma-separated integers such as 1477425,148199"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    creds = Parser(add_help=False)
    group = creds.add_argument_group("credentials and connection")
    group.add_argument("--aff-id", help="affiliate id (env ADGATE_AFF_ID)")
    group.add_argument("--api-key", help="AdGate API key (env ADGATE_API_KEY; never printed)")
    group.add_argument("--wall-code", help="offer wall code (env ADGATE_WALL_CODE)")
    group.add_argument("--wall-id", help="RevU wall id (env REVU_WALL_ID)")
    for flag, (_, env, default) in BASE_URLS.items():
        group.add_argument(flag, help=f"base URL (env {env}; default {default})")
    group.add_argument("--timeout", type=float, default=_config.TIMEOUT,
                       help="seconds per attempt (default %(default)s)")
    group.add_argument("--max-retries", type=int, default=_config.MAX_RETRIES,
                       help="retries after the first attempt (default %(default)s)")
    group.add_argument("-v", "--verbose", action="store_true",
                       help="log every attempt to stderr (URLs shown with api_key=***)")

    history_opts = Parser(add_help=False)
    group = history_opts.add_argument_group("history options")
    group.add_argument("--lang", help="Accept-Language value, e.g. 'en-US,en;q=0.5'")
    group.add_argument("--continue-playing", action="store_true",
                       help="only the offers for a 'Continue playing' section")
    group.add_argument("--offer-ids", type=_offer_ids, help="filter, e.g. 1477425,148199")

    bulk_opts = Parser(add_help=False)
    group = bulk_opts.add_argument_group("bulk options")
    group.add_argument("--concurrency",
                       type=_positive_int("concurrency", _config.BULK_CONCURRENCY_MAX),
                       help=f"requests in flight (default {_config.BULK_CONCURRENCY})")
    group.add_argument("--rate", type=float, help="start at most this many users per second")
    group.add_argument("--ordered", action="store_true",
                       help="write results in input order (default: as they complete)")
    group.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bar on stderr (default: when stderr is a terminal)")

    job_opts = Parser(add_help=False)
    group = job_opts.add_argument_group("job options (resume, parts, failing fast)")
    group.add_argument("--resume", action="store_true",
                       help="continue the job that wrote -o: ids already there are skipped, "
                            "a trailing partial line is cut off (give the same ids)")
    group.add_argument("--overwrite", action="store_true",
                       help="replace an existing non-empty -o (refused by default)")
    group.add_argument("--format", choices=("jsonl", "parquet"),
                       help="write -o as a directory of parts in this format")
    group.add_argument("--shard-size", type=_positive_int("shard_size"),
                       help="ids per part (default 100000); implies a directory of parts")
    group.add_argument("--compress", choices=("gzip",),
                       help="gzip the output (default: when -o ends with .gz)")
    group.add_argument("--fail-fast", type=_non_negative_int, default=50, metavar="N",
                       help="stop (exit 4) when the last N users all failed with transport "
                            "errors or 5xx after their retries (0: never; default %(default)s)")
    group.add_argument("--retry-budget", type=_retry_budget, metavar="RATIO",
                       default=argparse.SUPPRESS,
                       help="retries may add at most this share (0 to 1) of the users to the "
                            "requests of a batch (each part with --processes or --dask); 0 or "
                            f"'none': no cap (default {_config.RETRY_BUDGET_RATIO:g})")
    group.add_argument("--strict", action="store_true",
                       help="exit 1 when any user's line is an error")
    group.add_argument("--processes", type=_positive_int("processes"), default=1,
                       metavar="N",
                       help="run the parts in N worker processes (needs a directory of "
                            "parts); --rate and Retry-After pauses hold across all of them, "
                            "--concurrency is per process (default 1)")
    group.add_argument("--dask", metavar="ADDRESS",
                       help="run the parts as tasks on the Dask distributed cluster at "
                            "ADDRESS (extra 'dask'; -o: a directory or fsspec URL every "
                            "worker can reach); "
                            "--rate is split between the tasks in flight, Retry-After pauses "
                            "hold across all of them")

    parser = Parser(
        prog="adgate-async",
        description="AdGate Media Get History and RevU Get Personalized from the shell.",
        epilog=_EPILOG, formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cmd = commands.add_parser("history", parents=[creds, history_opts], epilog=_EPILOG,
                              formatter_class=_Formatter,
                              help="print one user's history as JSON",
                              description="Print one user's history as indented JSON.")
    cmd.add_argument("user_id")

    cmd = commands.add_parser("personalized", parents=[creds], epilog=_EPILOG,
                              formatter_class=_Formatter,
                              help="print one user's ranked offers as JSON",
                              description="Print one user's ranked offers as indented JSON. "
                                          "Needs a wall: --wall, --wall-id or REVU_WALL_ID.")
    cmd.add_argument("uid")
    cmd.add_argument("-n", "--numoffers", type=int, required=True, help="1..500")
    cmd.add_argument("--wall", type=_positive_int("wall"),
                     help="wall id (default: --wall-id or REVU_WALL_ID)")
    cmd.add_argument("--sid3")
    cmd.add_argument("--device", choices=sorted(_config.DEVICES))
    cmd.add_argument("--ip", help="the user's IPv4 address")
    cmd.add_argument("--os-version", type=float)
    cmd.add_argument("--include-sortmetric", action="store_true")
    cmd.add_argument("--bid-floor", type=float)
    cmd.add_argument("--experiment-id")

    cmd = commands.add_parser(
        "bulk", parents=[creds, history_opts, bulk_opts, job_opts], epilog=_EPILOG,
        formatter_class=_Formatter,
        help="histories of many users: ids one per line in, JSON Lines out",
        description="Read user ids one per line from FILE, or from standard input when FILE "
                    "is - or left out (UTF-8; a leading byte order mark is dropped; empty or "
                    "whitespace-only lines are skipped). Write one JSON line per user: "
                    '{"user_id": ..., "history": {...}} or {"user_id": ..., "error": '
                    '{"type": ..., "status": ..., "code": ...}}. A summary goes to stderr at '
                    "the end. The output may not be the input file. An existing non-empty "
                    "output is refused unless --resume or --overwrite; with --format or "
                    "--shard-size (or -o DIR/) the output is a directory of parts "
                    "part-NNNNN.jsonl[.gz] or .parquet, each renamed into place once whole, "
                    "and _SUCCESS at the end.",
    )
    cmd.add_argument("file", nargs="?", default="-",
                     help="file of user ids, or - for standard input (the default)")
    cmd.add_argument("-o", "--output", default="-",
                     help="JSON Lines output file, .gz for gzip, or a directory of parts "
                          "(a path, or an fsspec URL such as file:///dir/ or s3://bucket/dir/"
                          "; default: standard output)")

    cmd = commands.add_parser(
        "demo", parents=[bulk_opts], epilog=_EPILOG, formatter_class=_Formatter,
        help="bulk run against the embedded stand-in server (no credentials, no network)",
        description="Start the embedded stand-in server, fetch the history of N generated "
                    "users (1 in 25 banned, 1 in 10 answering 500 once before recovering, "
                    "1 in 97 unknown), and print the summary. Output is discarded unless "
                    "-o is given. Exits 0 when every user is accounted for.",
    )
    cmd.add_argument("--users", type=_positive_int("users"), default=2000,
                     help="how many users (default %(default)s)")
    cmd.add_argument("-o", "--output", help="also write the JSON Lines here (- for stdout)")
    return parser


# ---------------------------------------------------------------------- credentials


def _pick(args: argparse.Namespace, flag: str) -> tuple[str | None, str]:
    """A credential's value and where it came from (the flag or the variable's name)."""
    attr, env = CREDENTIALS[flag]
    value = getattr(args, attr, None)
    if value is not None:
        return value, flag
    return os.environ.get(env) or None, env


def _pick_url(args: argparse.Namespace, flag: str) -> tuple[str, str]:
    """A base URL and where it came from (the flag, the variable's name, or "default")."""
    attr, env, default = BASE_URLS[flag]
    value = getattr(args, attr, None)
    if value is not None:
        return value, flag
    from_env = os.environ.get(env)
    return (from_env, env) if from_env else (default, "default")


def _as_positive_int(value: str, source: str) -> int:
    # At most 19 significant digits (an int64): int() of thousands of digits would fail
    # with Python's own message, naming neither the source nor the rule.
    digits = value.strip().removeprefix("+").lstrip("0")
    if re.fullmatch(r"[0-9]{1,19}", digits) is None:
        raise UsageError(f"{source} must be a positive integer")
    return int(digits)


def has_wall(args: argparse.Namespace) -> bool:
    return args.wall is not None or _pick(args, "--wall-id")[0] is not None


def session_from(args: argparse.Namespace, *, need_adgate: bool) -> AsyncSession:
    return session_and_config(args, need_adgate=need_adgate)[0]


def session_and_config(args: argparse.Namespace, *,
                       need_adgate: bool) -> tuple[AsyncSession, SessionConfig]:
    """The session (its construction checks every value) and the same settings as a
    picklable SessionConfig (for worker processes)."""
    values = {flag: _pick(args, flag) for flag in CREDENTIALS}
    if need_adgate:
        missing = [f"{flag} or {CREDENTIALS[flag][1]}" for flag in
                   ("--aff-id", "--api-key", "--wall-code") if not values[flag][0]]
        if missing:
            raise UsageError("missing credentials: " + "; ".join(missing))
    urls = {flag: _pick_url(args, flag) for flag in BASE_URLS}
    aff_id, aff_source = values["--aff-id"]
    wall_id, wall_source = values["--wall-id"]
    try:
        config = SessionConfig(
            # RevU takes no AdGate credentials: placeholders keep the session whole.
            aff_id=_as_positive_int(aff_id, aff_source) if aff_id else 1,
            api_key=values["--api-key"][0] or "unused",
            wall_code=values["--wall-code"][0] or "unused",
            wall_id=_as_positive_int(wall_id, wall_source) if wall_id else None,
            adgate_base_url=urls["--adgate-base-url"][0],
            revu_base_url=urls["--revu-base-url"][0],
            timeout=args.timeout,
            max_retries=args.max_retries,
            max_connections=max(_config.MAX_CONNECTIONS, getattr(args, "concurrency", 0) or 0),
        )
        return AsyncSession(**config.kwargs()), config
    except InvalidParameterError as exc:
        flag = _PARAM_TO_FLAG.get(exc.param)
        if flag is not None:  # a credential: its source and the rule, never the value
            raise UsageError(f"{values[flag][1]} {exc.rule}") from None
        url_flag = "--" + exc.param.replace("_", "-")
        if url_flag in BASE_URLS and urls[url_flag][1] != url_flag:  # from the environment
            raise UsageError(f"{urls[url_flag][1]} {exc.rule}") from None
        raise UsageError(f"--{exc.param.replace('_', '-')}: {exc}") from None
