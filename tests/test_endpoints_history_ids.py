"""Get History's user id in the URL: ids of URL-unreserved ASCII characters take a shortcut
(sent as they are, unchecked); every id must come out as the full check and quoting make it,
or be refused the same way."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adgate_async import InvalidParameterError
from adgate_async._endpoints.history import HistoryURLs
from adgate_async._params import check_user_id

from ._support import PROPERTY

URLS = HistoryURLs("http://127.0.0.1:9", aff_id=1, api_key="k", wall_code="w")
UNRESERVED = "ABCXYZabcxyz0189_.~-"


def expected_tail(user_id: object) -> str | None:
    """What the full check and quoting make of ``user_id`` (None: refused)."""
    try:
        return quote(check_user_id(user_id), safe="")
    except InvalidParameterError:
        return None


@PROPERTY
@given(user_id=st.text(UNRESERVED, max_size=300) | st.text(UNRESERVED + "é /%&\n", max_size=260)
       | st.sampled_from(["a" * 255, "a" * 256, "-" * 255 + "é", "", ".", "~"]))
def test_the_url_of_an_id_is_what_checking_and_quoting_make_it(user_id: str) -> None:
    tail = expected_tail(user_id)
    if tail is None:
        with pytest.raises(InvalidParameterError):
            URLS.request(user_id, "&x=1")
        return
    request = URLS.request(user_id, "&x=1")
    assert request.url.endswith("&user_id=" + tail + "&x=1")
    assert request.url.endswith("&user_id=" + tail + "&x=1")


class _Text(str):
    """A str subclass: not taken by the shortcut, checked as any other id."""


def test_a_str_subclass_id_is_checked_and_quoted() -> None:
    assert URLS.request(_Text("a b"), "").url.endswith("&user_id=a%20b")
