"""Issue 10: the package's shape (one-way imports, small modules), the options declared
once (``**options: Unpack[...]``: mypy rejects a misspelt one, and so does the run time),
and the fixes made while restructuring (errors safe to build, batch ids, Retry-After)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import adgate_async
from adgate_async import (
    AsyncSession,
    InvalidParameterError,
    RateLimitError,
    UserResult,
    UserResultIterator,
)
from adgate_async._status import parse_retry_after
from adgate_async.testing import Answer, StandInServer

from ._support import make_session

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "adgate_async"
HUGE = 10**5000  # str() of it raises ValueError (beyond the int-to-text digit limit)


# ------------------------------------------------------------------ the package's shape


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """Each package module -> the package modules it imports (at any depth in the file)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                target = (f"{base}.{node.module}" if node.module else base) if node.level \
                    else (node.module or "")
                for alias in node.names:
                    if f"{target}.{alias.name}" in modules:
                        found.add(f"{target}.{alias.name}")
                    elif target in modules:
                        found.add(target)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in modules)
        graph[name] = found - {name}
    return graph


def test_no_import_circle_inside_the_package() -> None:
    # The top-level __init__ re-exports from everywhere; nothing inside imports it back.
    edges = {m: ts for m, ts in _imports().items() if m != "adgate_async"}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, set())):
            if state.get(nxt) == 1:
                raise AssertionError("import circle: " + " -> ".join([*path, nxt]))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)


def test_the_bulk_engine_knows_neither_the_session_nor_an_endpoint() -> None:
    imported = _imports()["adgate_async._bulk"]
    assert not {m for m in imported
                if m.startswith(("adgate_async._session", "adgate_async._endpoints",
                                 "adgate_async.models"))}


def test_no_module_over_400_lines_but_the_cli() -> None:
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400 and "cli" not in p.parts}
    # integrator: restore (issue 12, t12: _session.py may pass 400 until the merge with
    # the settings module makes room; every other module keeps the limit).
    assert set(long) <= {"adgate_async/_session.py"}
    assert len((PACKAGE / "_session.py").read_text().splitlines()) < 420


# ------------------------------------------------------------- options declared once


def test_mypy_rejects_a_misspelt_option_at_the_call_site(tmp_path: Path) -> None:
    snippet = tmp_path / "misspelt.py"
    snippet.write_text(
        "from adgate_async import AsyncSession\n"
        "\n"
        "\n"
        "async def main(s: AsyncSession) -> None:\n"
        '    await s.get_history("u", lang="en", continue_playing=True)\n'  # line 5: fine
        '    await s.get_personalized("u", numoffers=5, device="ios")\n'  # line 6: fine
        '    await s.get_history("u", langg="en")\n'  # line 7
        '    await s.get_personalized("u", numofers=5)\n'  # line 8
        '    await s.gather_users(["u"], continue_playin=True)\n'  # line 9
        '    s.iter_users(["u"], offer_id=[1])\n'  # line 10
        '    await s.with_raw_response.get_history("u", lng="en")\n'  # line 11
        '    await s.get_personalized("u")\n'  # line 12: numoffers is required
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(snippet)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    errors = {int(line.split(":")[1]) for line in out.splitlines()
              if line.startswith(str(snippet)) and ": error:" in line}
    assert errors == {7, 8, 9, 10, 11, 12}, out
    for name in ("langg", "numofers", "continue_playin", "offer_id", "lng"):
        assert f'"{name}"' in out


_UNKNOWN_CALLS: dict[str, Any] = {
    "get_history": lambda s: s.get_history("u", langg="en"),
    "get_personalized": lambda s: s.get_personalized("u", numoffers=5, numofers=5),
    "raw get_history": lambda s: s.with_raw_response.get_history("u", langg="en"),
    "raw get_personalized": lambda s: s.with_raw_response.get_personalized(
        "u", numoffers=5, devise="ios"),
    "gather_users": lambda s: s.gather_users(["u"], langg="en"),
}


@pytest.mark.parametrize("call", list(_UNKNOWN_CALLS))
async def test_an_unknown_option_is_a_type_error_naming_it_before_any_request(
    adgate_server: StandInServer, call: str
) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        with pytest.raises(TypeError, match=r"unexpected keyword argument '(langg|numofers|"
                                            r"devise)'"):
            await _UNKNOWN_CALLS[call](s)
    assert adgate_server.count() == 0


async def test_iter_users_refuses_an_unknown_option_when_called(
    adgate_server: StandInServer,
) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        with pytest.raises(TypeError, match="'offer_id'"):
            s.iter_users(["u"], offer_id=[1])  # type: ignore[call-arg]
    assert adgate_server.count() == 0


async def test_numoffers_missing_is_a_type_error(adgate_server: StandInServer) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        with pytest.raises(TypeError, match="'numoffers'"):
            await s.get_personalized("u")  # type: ignore[call-arg]
    assert adgate_server.count() == 0


def test_docstrings_list_every_option() -> None:
    history = ("lang", "continue_playing", "offer_ids")
    personalized = ("numoffers", "wall", "sid3", "device", "ip", "os_version",
                    "include_sortmetric", "bid_floor", "experiment_id")
    for name in history:
        assert name in (AsyncSession.get_history.__doc__ or "")
    for name in personalized:
        assert name in (AsyncSession.get_personalized.__doc__ or "")


# ----------------------------------------------------- fixes made while restructuring


def test_every_invalid_parameter_error_is_safe_to_build() -> None:
    class Unshowable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    huge = InvalidParameterError("wall", "must be small", HUGE)
    assert str(huge) == "wall must be small (got an int of about 5001 digits)"
    assert huge.args == (huge.message,)
    negative = InvalidParameterError("wall", "must be small", -HUGE)
    assert "a negative int of about 5001 digits" in str(negative)
    boxed = InvalidParameterError("offer_ids", "must be ints", [HUGE])
    assert str(boxed) == "offer_ids must be ints (got a list that cannot be shown)"
    odd = InvalidParameterError("sid3", "must be a str", Unshowable())
    assert "(got a Unshowable that cannot be shown)" in str(odd)
    long = InvalidParameterError("sid3", "must be short", "x" * 500)
    assert len(str(long)) < 120
    assert "...: str)" in str(long)


async def test_a_batch_id_whose_text_cannot_be_made_still_gets_its_result(
    adgate_server: StandInServer,
) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        results = await s.gather_users([HUGE, "u1"])  # type: ignore[list-item]
        streamed = [r async for r in s.iter_users([HUGE], ordered=True)]  # type: ignore[list-item]
    first = results[0]
    assert isinstance(first.error, InvalidParameterError)
    assert first.error.param == "user_id"
    assert first.index == 0
    assert first.user_id == "<a int that cannot be shown>"
    assert results[1].ok
    assert streamed[0].user_id == first.user_id
    assert adgate_server.count() == 1


@pytest.mark.parametrize(
    "value",
    [
        "Fri, 31 Dec 9999999999 23:59:59 GMT",
        "31 Dec 100000000000000000000 23:59:59 GMT",
        "Fri, 31 Dec 9999 23:59:59 +99999999999999999999",
    ],
)
def test_parse_retry_after_reads_an_out_of_range_date_as_unreadable(value: str) -> None:
    assert parse_retry_after(value) is None


async def test_a_429_with_an_out_of_range_retry_after_date_falls_back_to_the_backoff(
    adgate_server: StandInServer,
) -> None:
    far = "Fri, 31 Dec 9999999999 23:59:59 GMT"
    adgate_server.script("u", Answer.error(429, retry_after=far),
                         Answer.error(429, retry_after=far))
    async with make_session(max_retries=1, **adgate_server.session_urls()) as s:
        with pytest.raises(RateLimitError) as info:
            await s.get_history("u")
    assert info.value.retry_after is None
    assert info.value.attempts == 2
    assert adgate_server.count("u") == 2


async def test_iter_users_returns_the_exported_iterator_type(adgate_session: AsyncSession) -> None:
    assert "UserResultIterator" in adgate_async.__all__
    results = adgate_session.iter_users(["u1"])
    assert isinstance(results, UserResultIterator)
    async with results:
        got = [r async for r in results]
    assert [type(r) for r in got] == [UserResult]
