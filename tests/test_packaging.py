"""The source distribution carries what its own tests need, and names the project's URLs.

The sdist is built in-process by the build backend (hatchling), offline and without build
isolation, into a temporary directory.
"""

from __future__ import annotations

import email.parser
import os
import tarfile
from pathlib import Path

import pytest

hatchling_build = pytest.importorskip(
    "hatchling.build", reason="hatchling (the build backend) is in the dev extra"
)

ROOT = Path(__file__).resolve().parent.parent

#: Files outside tests/ that the shipped tests run or read (test_benchmarks_smoke.py runs the
#: benchmarks, test_static.py type-checks examples/ and lints with pyproject's settings) and
#: files the README links to.
NEEDED = [
    "pyproject.toml",
    "README.md",
    "CHANGELOG.md",
    "benchmarks/RESULTS.md",
    "examples/quickstart.py",
    "adgate_async/py.typed",
]


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[str], str]:
    """The member paths (relative to the top folder) and the PKG-INFO text of a fresh sdist."""
    out = tmp_path_factory.mktemp("sdist")
    cwd = os.getcwd()
    os.chdir(ROOT)  # the backend reads pyproject.toml from the working directory
    try:
        name = hatchling_build.build_sdist(str(out))
    finally:
        os.chdir(cwd)
    with tarfile.open(out / name) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
        top = name.removesuffix(".tar.gz")
        pkg_info = tar.extractfile(f"{top}/PKG-INFO")
        assert pkg_info is not None
        return members, pkg_info.read().decode()


def test_sdist_ships_every_test_and_what_the_tests_need(sdist: tuple[set[str], str]) -> None:
    members, _ = sdist
    for path in sorted((ROOT / "tests").glob("*.py")):
        assert f"tests/{path.name}" in members, path.name
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        assert f"benchmarks/{path.name}" in members, path.name
    for name in NEEDED:
        assert name in members, name


def test_sdist_ships_no_local_clutter(sdist: tuple[set[str], str]) -> None:
    members, _ = sdist
    assert not [m for m in members if "__pycache__" in m or m.startswith(".venv")]


def test_project_urls_in_metadata(sdist: tuple[set[str], str]) -> None:
    _, pkg_info = sdist
    metadata = email.parser.Parser().parsestr(pkg_info)
    urls = dict(
        (label.strip(), url.strip())
        for label, url in (entry.split(",", 1) for entry in metadata.get_all("Project-URL", []))
    )
    assert set(urls) >= {"Homepage", "Documentation", "Changelog", "Issues"}, urls
    assert all(url.startswith("https://") for url in urls.values()), urls
