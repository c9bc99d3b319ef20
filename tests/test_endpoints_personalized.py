"""Get Personalized: the query rules (numoffers, wall, device, ip,
numbers, text), no key sent to RevU (examples, then hypothesis domains and round trips).
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import pytest
from aioresponses import aioresponses
from hypothesis import given
from hypothesis import strategies as st

from adgate_async._endpoints.personalized import personalized_query
from adgate_async._errors import InvalidParameterError
from adgate_async.testing import (
    VENDOR_PERSONALIZED_SAMPLE,
    StandInServer,
)

from ._support import (
    ANY,
    API_KEY,
    PROPERTY,
    WALL_ID,
    any_chars,
    has_surrogate,
    make_session,
    only_url,
    refused,
    tricky_texts,
)


async def test_personalized_url_and_query(mock_http: aioresponses) -> None:
    mock_http.get(ANY, payload=VENDOR_PERSONALIZED_SAMPLE)
    async with make_session() as s:
        result = await s.get_personalized(
            "user12345", numoffers=25, sid3="abc", device="ios", ip="203.0.113.7",
            os_version=17.1, include_sortmetric=True, bid_floor=0.5, experiment_id="exp 1",
        )
    assert result.offers[0].hot_offers_order == 1
    url = only_url(mock_http)
    assert url.host == "publishers.revenueuniverse.com"
    assert url.scheme == "https"
    assert url.raw_path == "/api/v1/users/user12345/personalized"
    assert dict(url.query) == {
        "wall": str(WALL_ID), "numoffers": "25", "sid3": "abc", "device": "ios",
        "ip": "203.0.113.7", "os_version": "17.1", "include_sortmetric": "true",
        "bid_floor": "0.5", "experiment_id": "exp 1",
    }


async def test_personalized_never_sends_the_api_key(mock_http: aioresponses) -> None:
    mock_http.get(ANY, payload=VENDOR_PERSONALIZED_SAMPLE)
    async with make_session() as s:
        await s.get_personalized("u", numoffers=1, include_sortmetric=False)
    url = only_url(mock_http)
    assert "api_key" not in url.query
    assert API_KEY not in str(url)
    assert url.query["include_sortmetric"] == "false"


async def test_explicit_wall_overrides_session_wall_id(mock_http: aioresponses) -> None:
    mock_http.get(ANY, payload=VENDOR_PERSONALIZED_SAMPLE)
    async with make_session() as s:
        await s.get_personalized("u", numoffers=1, wall=999)
    assert only_url(mock_http).query["wall"] == "999"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"numoffers": 0}, "numoffers"),
        ({"numoffers": 501}, "numoffers"),
        ({"numoffers": 5, "device": "mobile"}, "device"),
        ({"numoffers": 5, "ip": "01.2.3.4"}, "ip"),
        ({"numoffers": 5, "ip": "1.2.3"}, "ip"),
    ],
)
async def test_bad_personalized_arguments_send_nothing(
    mock_http: aioresponses, kwargs: dict[str, object], param: str
) -> None:
    mock_http.get(ANY, payload=VENDOR_PERSONALIZED_SAMPLE)
    async with make_session() as s:
        with pytest.raises(InvalidParameterError) as info:
            await s.get_personalized("u", **kwargs)  # type: ignore[arg-type]
    assert info.value.param == param
    assert param in str(info.value)
    assert isinstance(info.value, ValueError)
    assert not mock_http.requests
    assert s.stats.requests == 0


async def test_wall_required_without_session_wall_id(mock_http: aioresponses) -> None:
    async with make_session(wall_id=None) as s:
        with pytest.raises(ValueError, match="wall"):
            await s.get_personalized("u", numoffers=5)
    assert not mock_http.requests


def test_personalized_query_minimal() -> None:
    assert personalized_query(numoffers=10, wall=567) == "wall=567&numoffers=10"


def query(**kwargs: Any) -> str:
    kwargs.setdefault("numoffers", 10)
    kwargs.setdefault("wall", 567)
    return personalized_query(**kwargs)


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


class ReprFloat(float):
    """A float subclass whose repr is not a number (as numpy's float64 is in NumPy 2)."""

    def __repr__(self) -> str:
        return f"ReprFloat({float(self)!r})"


class ReprInt(int):
    """An int subclass whose repr is not a number."""

    def __repr__(self) -> str:
        return f"ReprInt({int(self)!r})"


@pytest.mark.parametrize(
    ("os_version", "bid_floor", "numoffers", "wall", "sent"),
    [
        (np.float64(17.1), np.float64(0.25), np.int64(5), np.int64(567),
         ("17.1", "0.25", "5", "567")),
        (np.int64(14), np.float64(1e20), 5, 567, ("14", "1e+20", "5", "567")),
        (ReprFloat(17.1), ReprFloat(0.25), ReprInt(5), ReprInt(567),
         ("17.1", "0.25", "5", "567")),
        (ReprInt(14), 0.5, 5, 567, ("14", "0.5", "5", "567")),
    ],
    ids=["numpy-floats-and-ints", "numpy-int-os-version", "float-int-subclasses",
         "int-subclass-os-version"],
)
async def test_numbers_are_sent_as_plain_numbers(
    adgate_server: StandInServer, os_version: Any, bid_floor: Any, numoffers: Any, wall: Any,
    sent: tuple[str, str, str, str],
) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        await s.get_personalized("u1", numoffers=numoffers, wall=wall,
                                 os_version=os_version, bid_floor=bid_floor)
    (request,) = adgate_server.requests
    got = (request.query["os_version"], request.query["bid_floor"],
           request.query["numoffers"], request.query["wall"])
    assert got == sent


@PROPERTY
@given(n=st.integers() | st.sampled_from([0, 1, 500, 501, -1, 2**63]))
def test_numoffers_ints(n: int) -> None:
    if 1 <= n <= 500:
        q = personalized_query(numoffers=n, wall=1)
        assert parse_qs(q, strict_parsing=True)["numoffers"] == [str(n)]
    else:
        assert "1..500" in str(refused("numoffers", personalized_query, numoffers=n, wall=1))


@PROPERTY
@given(n=st.booleans() | st.floats() | st.text() | st.decimals(allow_nan=False)
       | st.fractions() | st.none() | st.integers(1, 500).map(str)
       | st.integers(1, 500).map(float))
def test_numoffers_non_ints_refused(n: object) -> None:
    refused("numoffers", personalized_query, numoffers=n, wall=1)


DEVICES = ["desktop", "ios", "android"]


#: Plausible values that are not in the domain ("mobile" is refused by the vendor).
NOT_DEVICES = ["mobile", "tablet", "web", "iphone", "ipad", "android_tv", "windows", "macos",
               "linux", "ios ", "ANDROID", "Desktop"]


@PROPERTY
@given(device=st.text()
       | st.sampled_from(DEVICES + NOT_DEVICES)
       | st.builds(lambda d, f: f(d), st.sampled_from(DEVICES),
                   st.sampled_from([str.upper, str.title, str.strip, lambda s: s + " ",
                                    lambda s: " " + s, lambda s: s[:-1], lambda s: s + "\n",
                                    lambda s: s + "\x00"])))
def test_device_domain(device: str) -> None:
    if device in DEVICES:
        q = personalized_query(numoffers=1, wall=1, device=device)
        assert q.endswith(f"&device={device}")
        assert parse_qs(q)["device"] == [device]
    else:
        refused("device", personalized_query, numoffers=1, wall=1, device=device)


@PROPERTY
@given(device=st.binary() | st.integers() | st.booleans() | st.lists(st.sampled_from(DEVICES)))
def test_device_that_is_not_str_refused(device: object) -> None:
    refused("device", personalized_query, numoffers=1, wall=1, device=device)


@PROPERTY
@given(ip=st.ip_addresses(v=4).map(str))
def test_every_ipv4_address_accepted(ip: str) -> None:
    q = personalized_query(numoffers=1, wall=1, ip=ip)
    assert q.endswith(f"&ip={ip}")
    assert parse_qs(q, strict_parsing=True)["ip"] == [ip]


@st.composite
def broken_ipv4(draw: st.DrawFn) -> str:
    octets = str(draw(st.ip_addresses(v=4))).split(".")
    i = draw(st.integers(0, 3))
    kind = draw(st.sampled_from(["leading zero", "3 octets", "5 octets", "octet > 255",
                                 "ipv6", "padding", "empty octet", "sign"]))
    if kind == "leading zero":
        octets[i] = "0" * draw(st.integers(1, 3)) + octets[i]
    elif kind == "3 octets":
        del octets[i]
    elif kind == "5 octets":
        octets.insert(i, str(draw(st.integers(0, 255))))
    elif kind == "octet > 255":
        octets[i] = str(draw(st.integers(256, 10**12)))
    elif kind == "ipv6":
        return str(draw(st.ip_addresses(v=6)))
    elif kind == "padding":
        pad = draw(st.text(st.sampled_from(" \t\n\r\x0b\x0c\xa0\u3000"), min_size=1, max_size=3))
        text = ".".join(octets)
        return draw(st.sampled_from([pad + text, text + pad, pad + text + pad]))
    elif kind == "empty octet":
        octets[i] = ""
    else:
        octets[i] = draw(st.sampled_from(["+", "-"])) + octets[i]
    return ".".join(octets)


@PROPERTY
@given(ip=broken_ipv4())
def test_malformed_ipv4_refused(ip: str) -> None:
    refused("ip", personalized_query, numoffers=1, wall=1, ip=ip)


OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"


DOTTED_QUAD = re.compile(rf"{OCTET}(?:\.{OCTET}){{3}}")


@PROPERTY
@given(ip=st.text(st.sampled_from("0123456789."), max_size=16)
       | st.text(st.sampled_from("0123456789.:/ x\n%&+٣"), max_size=16))
def test_ip_domain_is_exactly_the_dotted_quad(ip: str) -> None:
    if DOTTED_QUAD.fullmatch(ip):
        assert personalized_query(numoffers=1, wall=1, ip=ip).endswith(f"&ip={ip}")
    else:
        refused("ip", personalized_query, numoffers=1, wall=1, ip=ip)


@PROPERTY
@given(
    name=st.sampled_from(["os_version", "bid_floor"]),
    value=st.floats(min_value=0, allow_infinity=False) | st.integers(min_value=0),
)
def test_numbers_round_trip(name: str, value: float) -> None:
    if isinstance(value, float) and str(value) == "-0.0":
        refused(name, personalized_query, numoffers=1, wall=1, **{name: value})
        return
    q = personalized_query(numoffers=1, wall=1, **{name: value})
    (text,) = parse_qs(q, strict_parsing=True)[name]
    assert (float(text) if isinstance(value, float) else int(text)) == value


@PROPERTY
@given(
    name=st.sampled_from(["os_version", "bid_floor"]),
    value=st.floats(max_value=-1e-300) | st.integers(max_value=-1)
    | st.sampled_from([float("nan"), float("inf"), -0.0]),
)
def test_negative_or_non_finite_numbers_refused(name: str, value: float) -> None:
    refused(name, personalized_query, numoffers=1, wall=1, **{name: value})


@PROPERTY
@given(name=st.sampled_from(["sid3", "experiment_id"]),
       value=st.text(any_chars, max_size=30) | tricky_texts)
def test_text_params_round_trip(name: str, value: str) -> None:
    if not value or has_surrogate(value):
        refused(name, personalized_query, numoffers=1, wall=1, **{name: value})
        return
    q = personalized_query(numoffers=1, wall=1, **{name: value})
    assert parse_qs(q, strict_parsing=True) == {"wall": ["1"], "numoffers": ["1"],
                                                name: [value]}
