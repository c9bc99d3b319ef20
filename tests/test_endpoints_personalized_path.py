"""Get Personalized: the uid is exactly one path segment, ASCII, 1 to 255 bytes, and
reaches RevU unchanged (examples, then hypothesis domains and round trips)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from aioresponses import aioresponses
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from adgate_async._endpoints.personalized import personalized_path
from adgate_async.testing import (
    VENDOR_PERSONALIZED_SAMPLE,
)

from ._support import (
    ANY,
    PROPERTY,
    WALL_ID,
    any_chars,
    make_session,
    only_url,
    refused,
    url_session,
)


@pytest.mark.parametrize(
    ("uid", "segment"),
    [
        ("a/b", "a%2Fb"),
        ("a?b=1", "a%3Fb%3D1"),
        ("a#frag", "a%23frag"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("../../admin", "..%2F..%2Fadmin"),
        ("a b%", "a%20b%25"),
    ],
)
async def test_uid_is_exactly_one_path_segment(
    mock_http: aioresponses, uid: str, segment: str
) -> None:
    mock_http.get(ANY, payload=VENDOR_PERSONALIZED_SAMPLE)
    async with make_session() as s:
        await s.get_personalized(uid, numoffers=1)
    url = only_url(mock_http)
    assert url.raw_path == f"/api/v1/users/{segment}/personalized"
    assert dict(url.query) == {"wall": str(WALL_ID), "numoffers": "1"}


@pytest.mark.parametrize(
    ("uid", "segment"),
    [
        ("user12345", "user12345"),
        ("abc-DEF_1.2~x", "abc-DEF_1.2~x"),
        ("a/b", "a%2Fb"),
        ("a?b=1", "a%3Fb%3D1"),
        ("a#frag", "a%23frag"),
        ("../admin", "..%2Fadmin"),
        ("a b", "a%20b"),
        ("%2F", "%252F"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("...", "%2E%2E%2E"),
        ("a..", "a.."),
    ],
)
def test_personalized_path(uid: str, segment: str) -> None:
    path = personalized_path(uid)
    assert path == f"/api/v1/users/{segment}/personalized"
    assert unquote(segment) == uid


@pytest.mark.parametrize("uid", ["..", ".", "a/../b"])
def test_personalized_path_survives_url_normalisation(uid: str) -> None:
    url = URL("https://publishers.revenueuniverse.com" + personalized_path(uid), encoded=True)
    assert url.path.startswith("/api/v1/users/")
    assert url.path.endswith("/personalized")
    assert len(url.raw_parts) == 6  # "/", api, v1, users, <uid>, personalized
    assert unquote(url.raw_parts[4]) == uid


@pytest.mark.parametrize("uid", ["usér", "ユーザー", "a\u00a0b"])
def test_personalized_path_refuses_non_ascii(uid: str) -> None:
    exc = refused("uid", personalized_path, uid)
    assert "ASCII" in str(exc)


@pytest.mark.parametrize("uid", ["", None, 7, "a" * 256])
def test_personalized_path_refuses_bad_uid(uid: object) -> None:
    refused("uid", personalized_path, uid)


def test_personalized_path_accepts_255_ascii_bytes() -> None:
    uid = "u" * 255
    assert personalized_path(uid) == f"/api/v1/users/{uid}/personalized"


@settings(max_examples=200, deadline=None)
@given(uid=st.text(alphabet=st.characters(max_codepoint=127), min_size=1, max_size=255))
def test_personalized_path_is_always_one_segment(uid: str) -> None:
    path = personalized_path(uid)
    parts = path.split("/")
    assert parts[0] == ""
    parts = parts[1:]
    assert len(parts) == 5
    assert parts[:3] == ["api", "v1", "users"]
    assert parts[4] == "personalized"
    segment = parts[3]
    assert segment not in ("", ".", "..")
    assert "?" not in segment
    assert "#" not in segment
    assert unquote(segment) == uid


ascii_uids = (
    st.text(st.characters(max_codepoint=127), min_size=1, max_size=255)
    | st.text(st.sampled_from("./%?#;=&+ \\~"), min_size=1, max_size=12)
    | st.text(st.sampled_from("."), min_size=1, max_size=255)
)


@PROPERTY
@given(uid=ascii_uids | st.text(any_chars, max_size=260))
def test_personalized_path_domain(uid: str) -> None:
    if uid.isascii() and 1 <= len(uid) <= 255:
        path = personalized_path(uid)
        assert path.startswith("/api/v1/users/")
        assert path.endswith("/personalized")
        assert unquote(path[len("/api/v1/users/"):-len("/personalized")]) == uid
    else:
        refused("uid", personalized_path, uid)


@PROPERTY
@given(uid=ascii_uids)
def test_personalized_url_keeps_the_uid_one_segment(uid: str) -> None:
    path = personalized_path(uid)
    parts = path.split("/")
    assert parts[0] == ""
    assert len(parts[1:]) == 5
    assert all(parts[1:])
    api, v1, users, segment, tail = parts[1:]
    assert (api, v1, users, tail) == ("api", "v1", "users", "personalized")
    assert unquote(segment) == uid
    assert segment not in (".", "..")

    url_text = url_session()._personalized_request(uid, {"wall": None, "numoffers": 1}).url
    url = URL(url_text, encoded=True)
    assert str(url) == url_text  # nothing re-encoded, nothing normalised away
    assert url.raw_path == path
    assert url.raw_parts == ("/", "api", "v1", "users", segment, "personalized")
    assert url.parts[4] == uid
    assert dict(url.query) == {"wall": "567", "numoffers": "1"}
    # Resolving against the base never climbs out of the users/ directory either.
    base = URL("https://publishers.revenueuniverse.com/")
    assert base.join(URL(path, encoded=True)).raw_path == path
