"""The pure validators and query builders in adgate_async._params, and the AsyncSession
constructor's validation (building a session needs no running loop and sends nothing)."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qs, quote, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from adgate_async import AsyncSession
from adgate_async._endpoints.history import history_options
from adgate_async._endpoints.personalized import personalized_path, personalized_query
from adgate_async._errors import InvalidParameterError
from adgate_async._params import check_user_id

API_KEY = "941bd1fe-s3cr3t-k3y"


def refused(param: str, func: Any, *args: Any, **kwargs: Any) -> InvalidParameterError:
    """Call ``func``, expect InvalidParameterError naming ``param``; return it."""
    with pytest.raises(InvalidParameterError) as info:
        func(*args, **kwargs)
    exc = info.value
    assert isinstance(exc, ValueError)
    assert exc.param == param
    assert str(exc).startswith(param + " ")
    return exc


def query(**kwargs: Any) -> str:
    kwargs.setdefault("numoffers", 10)
    kwargs.setdefault("wall", 567)
    return personalized_query(**kwargs)


def session(**kwargs: Any) -> AsyncSession:
    kwargs.setdefault("aff_id", 60000)
    kwargs.setdefault("api_key", API_KEY)
    kwargs.setdefault("wall_code", "nQug")
    return AsyncSession(**kwargs)


# ------------------------------------------------------------------------------- user_id


@pytest.mark.parametrize(
    "value",
    [
        "user12345",
        "a",
        "a" * 255,
        "é" * 127,  # 254 bytes
        "€" * 85,  # 255 bytes
        "é" * 127 + "a",  # 255 bytes
        "🙂" * 63 + "abc",  # 252 + 3 = 255 bytes
        "user with spaces/and?odd#chars&=",
    ],
)
def test_user_id_accepted(value: str) -> None:
    assert len(value.encode("utf-8")) <= 255
    assert check_user_id(value) == value
    assert check_user_id(value, "uid") == value


@pytest.mark.parametrize(
    "value",
    [
        "a" * 256,
        "é" * 128,  # 256 bytes though only 128 characters
        "€" * 86,  # 258 bytes
        "🙂" * 64,  # 256 bytes
        "é" * 127 + "ab",  # 256 bytes
    ],
)
def test_user_id_over_255_bytes_refused(value: str) -> None:
    assert len(value) <= 256
    exc = refused("user_id", check_user_id, value)
    assert "255 bytes" in str(exc)
    assert f"is {len(value.encode())}" in str(exc)


@pytest.mark.parametrize("value", ["", None, 12345, b"user", ["u"]])
def test_user_id_empty_or_not_str_refused(value: object) -> None:
    refused("user_id", check_user_id, value)


@pytest.mark.parametrize("value", ["\ud800", "abc\udfff", "\udc80user"])
def test_user_id_lone_surrogate_refused(value: str) -> None:
    exc = refused("user_id", check_user_id, value)
    assert "Unicode" in str(exc)


def test_user_id_other_name_is_used_in_message() -> None:
    refused("uid", check_user_id, "", "uid")


@settings(max_examples=200, deadline=None)
@given(
    base=st.text(max_size=300),
    surrogate=st.none() | st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"]),
    at=st.integers(min_value=0, max_value=300),
)
def test_accepted_user_ids_round_trip_through_percent_encoding(
    base: str, surrogate: str | None, at: int
) -> None:
    uid = base if surrogate is None else base[:at] + surrogate + base[at:]
    has_surrogate = any(0xD800 <= ord(c) <= 0xDFFF for c in uid)
    size = len(uid.encode("utf-8", "surrogatepass"))
    if not uid or has_surrogate or size > 255:
        refused("user_id", check_user_id, uid)
        return
    assert check_user_id(uid) == uid
    assert 1 <= len(uid.encode("utf-8")) <= 255
    encoded = quote(uid, safe="")
    assert "/" not in encoded
    assert "?" not in encoded
    assert "#" not in encoded
    assert unquote(encoded) == uid


# ----------------------------------------------------------------------- personalized path


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


# ------------------------------------------------------------------------ personalized query


def test_personalized_query_minimal() -> None:
    assert personalized_query(numoffers=10, wall=567) == "wall=567&numoffers=10"


@pytest.mark.parametrize("numoffers", [1, 2, 499, 500])
def test_numoffers_accepted(numoffers: int) -> None:
    assert f"numoffers={numoffers}" in query(numoffers=numoffers)


@pytest.mark.parametrize("numoffers", [0, -1, 501, 10**6, "5", True, False, 5.0, None])
def test_numoffers_refused(numoffers: object) -> None:
    exc = refused("numoffers", query, numoffers=numoffers)
    assert "1..500" in str(exc)


def test_wall_missing_refused_with_hint() -> None:
    exc = refused("wall", personalized_query, numoffers=10, wall=None)
    message = str(exc)
    assert "wall=" in message
    assert "wall_id" in message


@pytest.mark.parametrize("wall", [0, -5, "567", True, 5.0])
def test_wall_invalid_refused(wall: object) -> None:
    refused("wall", query, wall=wall)


@pytest.mark.parametrize("device", ["desktop", "ios", "android"])
def test_device_accepted(device: str) -> None:
    assert query(device=device).endswith(f"&device={device}")


def test_device_none_omitted() -> None:
    assert "device" not in query(device=None)


@pytest.mark.parametrize("device", ["mobile", "iOS", "Desktop", "", " ios", 1, True])
def test_device_refused(device: object) -> None:
    refused("device", query, device=device)


@pytest.mark.parametrize("ip", ["203.0.113.7", "0.0.0.0", "255.255.255.255", "10.0.0.1"])
def test_ip_accepted(ip: str) -> None:
    assert query(ip=ip).endswith(f"&ip={ip}")


@pytest.mark.parametrize(
    "ip",
    ["01.2.3.4", "1.2.3", "256.1.1.1", "::1", "2001:db8::1", "1.2.3.4 ", "1.2.3.4/32",
     "1.2.3.4&x=1", "", "localhost", 16909060],
)
def test_ip_refused(ip: object) -> None:
    refused("ip", query, ip=ip)


@pytest.mark.parametrize(("value", "text"), [(True, "true"), (False, "false")])
def test_include_sortmetric_boolean(value: bool, text: str) -> None:
    assert query(include_sortmetric=value).endswith(f"&include_sortmetric={text}")


@pytest.mark.parametrize("value", [1, 0, "true", "false"])
def test_include_sortmetric_non_bool_refused(value: object) -> None:
    refused("include_sortmetric", query, include_sortmetric=value)


@pytest.mark.parametrize("name", ["os_version", "bid_floor"])
@pytest.mark.parametrize(("value", "text"), [(17.1, "17.1"), (0, "0"), (2, "2"), (0.5, "0.5")])
def test_numbers_accepted(name: str, value: float, text: str) -> None:
    q = query(**{name: value})
    assert q.endswith(f"&{name}={text}")
    assert float(parse_qs(q)[name][0]) == value


@pytest.mark.parametrize("name", ["os_version", "bid_floor"])
@pytest.mark.parametrize("value", [-1, -0.5, math.nan, math.inf, -math.inf, True, False, "17.1"])
def test_numbers_refused(name: str, value: object) -> None:
    refused(name, query, **{name: value})


@pytest.mark.parametrize("name", ["os_version", "bid_floor"])
@pytest.mark.parametrize("value", [1e20, 1.5e16, 1e-7])
def test_numbers_survive_query_decoding(name: str, value: float) -> None:
    # The number must reach the server as the same number: a bare "+" in a query string
    # (repr(1e20) == "1e+20") is read as a space by form decoders.
    q = query(**{name: value})
    assert float(parse_qs(q)[name][0]) == value


@pytest.mark.parametrize("name", ["sid3", "experiment_id"])
def test_text_params_encoded(name: str) -> None:
    assert query(**{name: "a b&c=d/é"}).endswith(f"&{name}=a%20b%26c%3Dd%2F%C3%A9")
    assert query(**{name: "abc-123"}).endswith(f"&{name}=abc-123")


@pytest.mark.parametrize("name", ["sid3", "experiment_id"])
@pytest.mark.parametrize("value", ["", 5, b"x", "\ud800"])
def test_text_params_refused(name: str, value: object) -> None:
    refused(name, query, **{name: value})


def test_personalized_query_full_order() -> None:
    q = personalized_query(
        numoffers=5, wall=9, sid3="s", device="ios", ip="203.0.113.7", os_version=17.1,
        include_sortmetric=False, bid_floor=3, experiment_id="e",
    )
    assert q == (
        "wall=9&numoffers=5&sid3=s&device=ios&ip=203.0.113.7&os_version=17.1"
        "&include_sortmetric=false&bid_floor=3&experiment_id=e"
    )


# --------------------------------------------------------------------------- history query


def test_history_options_empty() -> None:
    assert history_options() == ""


@pytest.mark.parametrize(("value", "text"), [(True, "true"), (False, "false")])
def test_continue_playing(value: bool, text: str) -> None:
    assert history_options(continue_playing=value) == f"&continue_playing={text}"


@pytest.mark.parametrize("value", [1, 0, "true", "yes"])
def test_continue_playing_non_bool_refused(value: object) -> None:
    refused("continue_playing", history_options, continue_playing=value)


def test_lang_percent_encoded() -> None:
    assert history_options(lang="en-US,en;q=0.5") == "&lang=en-US%2Cen%3Bq%3D0.5"
    assert history_options(lang="fr") == "&lang=fr"


@pytest.mark.parametrize("value", ["", 5, b"en", "\udc00"])
def test_lang_refused(value: object) -> None:
    refused("lang", history_options, lang=value)


def test_offer_ids_joined() -> None:
    assert history_options(offer_ids=[1477425, 148199]) == "&offer_ids=1477425,148199"
    assert history_options(offer_ids=(x for x in (1477425, 148199))) == (
        "&offer_ids=1477425,148199"
    )
    assert history_options(offer_ids=range(1, 4)) == "&offer_ids=1,2,3"


@pytest.mark.parametrize(
    "value",
    ["1477425,148199", "1", b"12", [], (), iter(()), 5, ["1"], [True], [0], [-3], [1, 2.0],
     [1, None]],
)
def test_offer_ids_refused(value: object) -> None:
    refused("offer_ids", history_options, offer_ids=value)


def test_history_options_order() -> None:
    assert history_options(lang="de", continue_playing=False, offer_ids=[7]) == (
        "&lang=de&continue_playing=false&offer_ids=7"
    )


# ------------------------------------------------------------------------- the constructor


def test_constructor_accepts_defaults_and_sends_nothing() -> None:
    s = session(wall_id=567)
    assert s.closed is False
    assert not s._pool.created  # the pool is created lazily, inside a running loop


@pytest.mark.parametrize("aff_id", [0, -1, "60000", True, 60000.0, None])
def test_aff_id_refused(aff_id: object) -> None:
    refused("aff_id", session, aff_id=aff_id)


@pytest.mark.parametrize("api_key", ["", None, 12345, b"941bd1fe-s3cr3t-k3y"])
def test_api_key_refused_without_echoing_it(api_key: object) -> None:
    exc = refused("api_key", session, api_key=api_key)
    assert "s3cr3t" not in str(exc)
    assert "12345" not in str(exc)
    assert "got" not in str(exc)


@pytest.mark.parametrize("wall_code", ["", None, 5])
def test_wall_code_refused(wall_code: object) -> None:
    refused("wall_code", session, wall_code=wall_code)


@pytest.mark.parametrize("wall_id", [0, -1, "567", True])
def test_wall_id_refused(wall_id: object) -> None:
    refused("wall_id", session, wall_id=wall_id)


@pytest.mark.parametrize("value", [-1, "3", True, 1.0])
def test_max_retries_refused(value: object) -> None:
    refused("max_retries", session, max_retries=value)


@pytest.mark.parametrize("name", ["retry_backoff", "retry_backoff_max"])
@pytest.mark.parametrize("value", [-1, -0.1, math.nan, math.inf, True, "1"])
def test_backoff_refused(name: str, value: object) -> None:
    refused(name, session, **{name: value})


@pytest.mark.parametrize("value", [0, 0.0, -1, math.nan, math.inf, True, "30"])
def test_timeout_refused(value: object) -> None:
    refused("timeout", session, timeout=value)


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "100"])
def test_max_connections_refused(value: object) -> None:
    refused("max_connections", session, max_connections=value)


def test_constructor_accepts_edge_values() -> None:
    session(max_retries=0, retry_backoff=0, retry_backoff_max=0, timeout=None,
            max_connections=1, wall_id=None)
    session(timeout=0.001, retry_backoff=1, wall_id=1, aff_id=1)


@pytest.mark.parametrize("name", ["adgate_base_url", "revu_base_url"])
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://localhost:1",
        "http://[::1]:1",
        "http://127.0.0.2",
        "https://api.example.com",
        "https://api.example.com/",
        "https://api.example.com:8443/prefix",
    ],
)
def test_base_url_accepted(name: str, url: str) -> None:
    session(**{name: url})


@pytest.mark.parametrize("name", ["adgate_base_url", "revu_base_url"])
@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com",
        "http://0.0.0.0",
        "http://localhost.example.com",
        "ftp://x",
        "https://x/?q=1",
        "https://x/#frag",
        "https://user:pw@x",
        "/relative/path",
        "api.example.com",
        "",
        None,
    ],
)
def test_base_url_refused(name: str, url: object) -> None:
    refused(name, session, **{name: url})


@pytest.mark.parametrize("url", ["https://x/?", "https://x?", "https://x/#", "https://x#"])
def test_base_url_with_empty_query_or_fragment_refused(url: str) -> None:
    # A bare "?" or "#" would swallow the path appended to the base URL
    # ("https://x/?/v1/user-based-api/history?...").
    refused("adgate_base_url", session, adgate_base_url=url)


def test_base_url_trailing_slash_is_dropped() -> None:
    s = session(revu_base_url="https://revu.example/", wall_id=1)
    assert s._revu_base_url == "https://revu.example"


def test_plain_http_refusal_explains_why() -> None:
    exc = refused("adgate_base_url", session, adgate_base_url="http://api.example.com")
    assert "https" in str(exc)


def test_repr_does_not_contain_api_key() -> None:
    s = session(wall_id=567)
    text = repr(s)
    assert API_KEY not in text
    assert quote(API_KEY, safe="") not in text
    assert "s3cr3t" not in text
    assert "aff_id=60000" in text
    assert "***" in text
    assert API_KEY not in str(s)


@pytest.mark.parametrize(
    "url",
    ["https://api.example.com/a b", "https://exämple.invalid", "https://api.example.com/\r\nX: y",
     "https://api.example.com/\x7f"],
)
def test_base_url_must_be_plain_ascii(url: str) -> None:
    with pytest.raises(InvalidParameterError, match="ASCII"):
        AsyncSession(aff_id=1, api_key="k", wall_code="w", adgate_base_url=url)
