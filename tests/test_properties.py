"""Property tests (hypothesis): the decoders, the validators and the URL building.

test_models.py and test_params.py pin examples; these explore the space around them:

* ``decode_body`` with both decoders never raises anything but our ``DecodeError``, on
  arbitrary bytes, arbitrary JSON, and vendor documents mutated at a random path (with an
  exact oracle, derived from the models' schema, for the outcome of each mutation);
* each validator accepts exactly its documented domain;
* every accepted value reaches the server unchanged: query and path round trips.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from yarl import URL

from adgate_async import AsyncSession
from adgate_async._config import MAX_ERROR_BODY_BYTES
from adgate_async._endpoints.history import history_options
from adgate_async._endpoints.personalized import personalized_path, personalized_query
from adgate_async._errors import DecodeError, InvalidParameterError
from adgate_async._params import check_user_id
from adgate_async._response import decode_body
from adgate_async.models import (
    HISTORY_DECODER,
    PERSONALIZED_DECODER,
    AppMetadata,
    Creative,
    ErrorBody,
    History,
    HistoryEvent,
    HistoryOffer,
    OfferEvent,
    Personalized,
    PersonalizedOffer,
    TimePlayed,
)
from adgate_async.testing import (
    VENDOR_HISTORY_SAMPLE,
    VENDOR_PERSONALIZED_SAMPLE,
    make_history,
    make_personalized,
)

PROPERTY = settings(max_examples=200, deadline=None)

Path = tuple[str | int, ...]
Model = type[History] | type[Personalized]
Decoder = msgspec.json.Decoder[Any]

DECODERS: list[tuple[Decoder, Model]] = [
    (HISTORY_DECODER, History),
    (PERSONALIZED_DECODER, Personalized),
]

#: A well-formed msgspec error path: ``$``, then ``.name`` and ``[index]`` steps.
PATH_SYNTAX = re.compile(r"\$(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\])*")

#: Every field name the models know, so that generated JSON reaches past the top level.
FIELD_NAMES = sorted(
    {
        f.encode_name
        for cls in (History, HistoryOffer, HistoryEvent, TimePlayed, AppMetadata, Personalized,
                    PersonalizedOffer, OfferEvent, Creative, ErrorBody)
        for f in msgspec.structs.fields(cls)
    }
)


# ------------------------------------------------------------------------------ helpers


def decode(decoder: Decoder, body: bytes) -> Any:
    return decode_body(decoder, body, status=200, method="GET", url="u", attempts=1)


def outcome(decoder: Decoder, body: bytes) -> Any:
    """The decoded model, or the DecodeError. Any other exception propagates: a failure."""
    try:
        return decode(decoder, body)
    except DecodeError as exc:
        return exc


def check_outcome(result: Any, model: Model, body: bytes) -> None:
    """A model instance, or a DecodeError that is complete and well-formed."""
    if not isinstance(result, DecodeError):
        assert type(result) is model
        return
    assert result.path is None or PATH_SYNTAX.fullmatch(result.path), result.path
    assert result.message.startswith(f"response body does not match {model.__name__}: ")
    assert result.status == 200
    assert result.body == body[:MAX_ERROR_BODY_BYTES]  # the kept body is capped
    assert (result.method, result.url, result.attempts) == ("GET", "u", 1)
    # Raised outside the except block: no msgspec exception chained onto ours.
    assert result.__cause__ is None
    assert result.__context__ is None


def render(path: Path) -> str:
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path)


def walk(node: Any, path: Path = ()) -> Iterator[Path]:
    """Every path below ``node`` (not ``node`` itself), parents before children."""
    items: Any = (
        node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list)
        else ()
    )
    for step, child in items:
        yield (*path, step)
        yield from walk(child, (*path, step))


def get_at(node: Any, path: Path) -> Any:
    for step in path:
        node = node[step]
    return node


def set_at(node: Any, path: Path, value: Any) -> None:
    get_at(node, path[:-1])[path[-1]] = value


def attr_at(obj: Any, path: Path) -> Any:
    """The same path as ``get_at``, in a decoded model tree."""
    for step in path:
        obj = obj[step] if isinstance(step, int) else getattr(obj, step)
    return obj


def members(t: mi.Type) -> tuple[mi.Type, ...]:
    return t.types if isinstance(t, mi.UnionType) else (t,)


def only(t: mi.Type, kind: type[mi.Type]) -> Any:
    (found,) = [m for m in members(t) if isinstance(m, kind)]
    return found


@functools.cache
def schema(model: Model) -> mi.Type:
    return mi.type_info(model)


def schema_at(model: Model, path: Path) -> mi.Type:
    """The declared type at ``path`` of a document of ``model``."""
    t = schema(model)
    for step in path:
        if isinstance(step, int):
            t = only(t, mi.ListType).item_type
        else:
            struct: mi.StructType = only(t, mi.StructType)
            t = next(f.type for f in struct.fields if f.encode_name == step)
    return t


def field_at(model: Model, path: Path) -> mi.Field:
    struct: mi.StructType = only(schema_at(model, path[:-1]), mi.StructType)
    return next(f for f in struct.fields if f.encode_name == path[-1])


def accepts(t: mi.Type, value: Any) -> bool:
    """Whether the schema type ``t`` takes ``value`` (the values SWAP_VALUES holds)."""
    for m in members(t):
        if value is None:
            ok = isinstance(m, mi.NoneType)
        elif isinstance(value, bool):
            ok = isinstance(m, mi.BoolType)
        elif isinstance(value, int):
            ok = isinstance(m, mi.IntType | mi.FloatType)  # float fields take JSON ints
        elif isinstance(value, float):
            ok = isinstance(m, mi.FloatType)
        elif isinstance(value, str):
            ok = isinstance(m, mi.StrType)
        elif isinstance(value, list):
            ok = isinstance(m, mi.ListType) and not value
        else:  # {}: a struct whose fields are all optional
            ok = isinstance(m, mi.StructType) and not any(f.required for f in m.fields)
        if ok:
            return True
    return False


def expected_value(t: mi.Type, value: Any) -> Any:
    """What an accepted ``value`` decodes to."""
    if isinstance(value, dict):
        return only(t, mi.StructType).cls()
    if (isinstance(value, int) and not isinstance(value, bool)
            and not any(isinstance(m, mi.IntType) for m in members(t))):
        return float(value)
    return value


def default_of(field: mi.Field) -> Any:
    if field.default is not msgspec.NODEFAULT:
        return field.default
    return field.default_factory()


def check_same_except(mutated: Any, original: Any, path: Path) -> None:
    """``mutated`` equals ``original`` everywhere but at ``path``."""
    expected = msgspec.to_builtins(original)
    set_at(expected, path, msgspec.to_builtins(attr_at(mutated, path)))
    assert msgspec.to_builtins(mutated) == expected


# ------------------------------------------------------------------------- strategies

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
)
json_keys = st.sampled_from(FIELD_NAMES) | st.text(max_size=10)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(json_keys, children, max_size=6),
    max_leaves=25,
)


class Source:
    """A document of one endpoint, mutable, with its decoder and its unmutated decode."""

    def __init__(self, label: str, decoder: Decoder, model: Model, doc: dict[str, Any]) -> None:
        self.label = label
        self.decoder = decoder
        self.model = model
        self.doc = copy.deepcopy(doc)  # the vendor samples are shared module-level dicts
        #: The encoded, unmutated document, and its decode.
        self.body = msgspec.json.encode(self.doc)
        self.decoded: Any = decode(decoder, self.body)

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        return self.label


@st.composite
def sources(draw: st.DrawFn) -> Source:
    """A vendor sample or a generated document, with its decoder."""
    kind = draw(st.sampled_from(["history sample", "personalized sample", "history",
                                 "personalized"]))
    uid = draw(st.text(min_size=1, max_size=8))
    seed = draw(st.integers(0, 2**16))
    if kind == "history sample":
        return Source("VENDOR_HISTORY_SAMPLE", *DECODERS[0], VENDOR_HISTORY_SAMPLE)
    if kind == "personalized sample":
        return Source("VENDOR_PERSONALIZED_SAMPLE", *DECODERS[1], VENDOR_PERSONALIZED_SAMPLE)
    if kind == "history":
        offers = draw(st.integers(0, 3))
        return Source(f"make_history({uid!r}, {offers}, seed={seed})", *DECODERS[0],
                      make_history(uid, offers, seed=seed))
    numoffers = draw(st.integers(1, 3))
    wall = draw(st.integers(1, 10**6))
    include_sortmetric = draw(st.booleans())
    experiment_id = draw(st.none() | st.text(min_size=1, max_size=5))
    return Source(
        f"make_personalized({uid!r}, numoffers={numoffers}, wall={wall}, seed={seed}, "
        f"include_sortmetric={include_sortmetric}, experiment_id={experiment_id!r})",
        *DECODERS[1],
        make_personalized(uid, numoffers=numoffers, wall=wall, seed=seed,
                          include_sortmetric=include_sortmetric, experiment_id=experiment_id),
    )


def paths_of(source: Source, *, keys_only: bool = False) -> list[Path]:
    return [p for p in walk(source.doc) if not keys_only or isinstance(p[-1], str)]


#: One value of each JSON type (and a numeric-looking string, and a float for int fields).
SWAP_VALUES: list[Any] = ["s", "7", 7, 2.5, True, [], {}, None]


# ------------------------------------------------------- 1. decoders: only DecodeError


@PROPERTY
@given(pair=st.sampled_from(DECODERS), body=st.binary(max_size=200))
def test_arbitrary_bytes_give_a_model_or_decode_error(pair: tuple[Decoder, Model],
                                                      body: bytes) -> None:
    decoder, model = pair
    check_outcome(outcome(decoder, body), model, body)


@PROPERTY
@given(
    pair=st.sampled_from(DECODERS),
    value=json_values
    | st.dictionaries(json_keys, json_values, max_size=8)
    | st.builds(lambda v: {"data": v}, json_values)
    | st.builds(lambda v: {"offers": v, "status": "success"}, json_values),
)
def test_arbitrary_json_gives_a_model_or_decode_error(pair: tuple[Decoder, Model],
                                                      value: Any) -> None:
    decoder, model = pair
    body = msgspec.json.encode(value)
    check_outcome(outcome(decoder, body), model, body)


@PROPERTY
@given(
    source=sources(),
    depth=st.integers(1, 200) | st.integers(2_000, 20_000),
    container=st.sampled_from([(b"[", b"]"), (b'{"k":', b"}")]),
)
def test_deeply_nested_unknown_field_gives_a_model_or_decode_error(
    source: Source, depth: int, container: tuple[bytes, bytes]
) -> None:
    # Unknown fields are ignored, however they are shaped; a body nested deeper than the
    # decoder can follow must still end in DecodeError, never in RecursionError.
    opening, closing = container
    nested = opening * depth + (b"1" if opening != b"[" else b"") + closing * depth
    body = b'{"zz_unknown":' + nested + b"," + source.body[1:]
    result = outcome(source.decoder, body)
    check_outcome(result, source.model, body)
    if not isinstance(result, DecodeError):
        assert result == source.decoded


@PROPERTY
@given(source=sources(), data=st.data())
def test_removed_field(source: Source, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(paths_of(source, keys_only=True)), label="path")
    field = field_at(source.model, path)
    del get_at(source.doc, path[:-1])[path[-1]]
    body = msgspec.json.encode(source.doc)
    result = outcome(source.decoder, body)
    check_outcome(result, source.model, body)
    if field.required:
        assert isinstance(result, DecodeError)
        assert f"missing required field `{path[-1]}`" in result.message
        # The error names the object that lacks the field; the root has no path.
        assert result.path == render(path[:-1]) or (not path[:-1] and result.path in (None, "$"))
    else:
        assert not isinstance(result, DecodeError), result
        default = default_of(field)
        assert attr_at(result, path) == default
        check_same_except(result, source.decoded, path)


@PROPERTY
@given(source=sources(), data=st.data(), value=st.sampled_from(SWAP_VALUES))
def test_swapped_type_or_null(source: Source, data: st.DataObject, value: Any) -> None:
    path = data.draw(st.sampled_from(paths_of(source)), label="path")
    declared = schema_at(source.model, path)
    set_at(source.doc, path, copy.deepcopy(value))
    body = msgspec.json.encode(source.doc)
    result = outcome(source.decoder, body)
    check_outcome(result, source.model, body)
    if accepts(declared, value):
        assert not isinstance(result, DecodeError), result
        got = attr_at(result, path)
        want = expected_value(declared, value)
        assert got == want
        assert type(got) is type(want)
        check_same_except(result, source.decoded, path)
    else:
        assert isinstance(result, DecodeError)
        assert result.path == render(path)


@PROPERTY
@given(source=sources(), data=st.data())
def test_null_inserted_into_a_list(source: Source, data: st.DataObject) -> None:
    lists = [p for p in paths_of(source) if isinstance(get_at(source.doc, p), list)]
    path = data.draw(st.sampled_from(lists), label="list")
    items = get_at(source.doc, path)
    at = data.draw(st.integers(0, len(items)), label="at")
    items.insert(at, None)
    body = msgspec.json.encode(source.doc)
    result = outcome(source.decoder, body)
    check_outcome(result, source.model, body)
    # No list in either model holds nulls.
    assert isinstance(result, DecodeError)
    assert result.path == render((*path, at))


@PROPERTY
@given(source=sources(), data=st.data(), value=json_values)
def test_unknown_field_is_ignored(source: Source, data: st.DataObject, value: Any) -> None:
    objects = [()] + [p for p in paths_of(source) if isinstance(get_at(source.doc, p), dict)]
    path = data.draw(st.sampled_from(objects), label="object")
    known = {f.encode_name for f in only(schema_at(source.model, path), mi.StructType).fields}
    name = data.draw(st.text(max_size=12).filter(lambda n: n not in known), label="name")
    get_at(source.doc, path)[name] = value
    body = msgspec.json.encode(source.doc)
    result = outcome(source.decoder, body)
    check_outcome(result, source.model, body)
    assert not isinstance(result, DecodeError), result
    assert result == source.decoded


@PROPERTY
@given(source=sources(), data=st.data())
def test_truncated_body_is_a_decode_error(source: Source, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(source.body) - 1), label="cut")
    body = source.body[:cut]
    result = outcome(source.decoder, body)
    check_outcome(result, source.model, body)
    # A proper prefix of an object is never JSON: a syntax error, with no path.
    assert isinstance(result, DecodeError)
    assert result.path is None


@PROPERTY
@given(source=sources(), data=st.data(), mask=st.integers(1, 255))
def test_flipped_byte_gives_a_model_or_decode_error(
    source: Source, data: st.DataObject, mask: int
) -> None:
    at = data.draw(st.integers(0, len(source.body) - 1), label="at")
    flipped = bytearray(source.body)
    flipped[at] ^= mask
    body = bytes(flipped)
    check_outcome(outcome(source.decoder, body), source.model, body)


@PROPERTY
@given(
    source=sources(),
    data=st.data(),
    text=st.text(st.characters(min_codepoint=0x80, max_codepoint=0xFF), min_size=1, max_size=8),
)
def test_latin1_text_in_a_str_field(source: Source, data: st.DataObject, text: str) -> None:
    # A server that sends Latin-1 instead of UTF-8 ("caf\xe9"): the body is not valid UTF-8.
    strings = [p for p in paths_of(source) if isinstance(get_at(source.doc, p), str)]
    assume(strings)  # a history with no offers has no strings
    path = data.draw(st.sampled_from(strings), label="path")
    marker = "\x00marker\x00"
    set_at(source.doc, path, marker)
    encoded_marker = msgspec.json.encode(marker)
    body = msgspec.json.encode(source.doc)
    assert body.count(encoded_marker) == 1
    raw = text.encode("latin-1")
    body = body.replace(encoded_marker, b'"' + raw + b'"')
    result = outcome(source.decoder, body)
    check_outcome(result, source.model, body)
    try:
        as_utf8 = raw.decode("utf-8")
    except UnicodeDecodeError:
        assert isinstance(result, DecodeError), result
    else:  # these bytes happen to be valid UTF-8 too ("\xc3\xa9")
        assert not isinstance(result, DecodeError), result
        assert attr_at(result, path) == as_utf8


HISTORY_EVENT_FLOATS = ["flat_points", "flat_payout", "approved_points", "pending_points",
                        "cancelled_points", "dynamic_points"]


@PROPERTY
@given(
    user_id=st.text(min_size=1, max_size=8),
    offers=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    data=st.data(),
    value=st.sampled_from(["490", [], {}, True, [490]]),
)
def test_type_swap_error_path_is_the_nested_path(
    user_id: str, offers: int, seed: int, data: st.DataObject, value: Any
) -> None:
    doc = copy.deepcopy(make_history(user_id, offers, seed=seed))
    i = data.draw(st.integers(0, len(doc["data"]) - 1), label="offer")
    j = data.draw(st.integers(0, len(doc["data"][i]["events"]) - 1), label="event")
    name = data.draw(st.sampled_from(HISTORY_EVENT_FLOATS), label="field")
    doc["data"][i]["events"][j][name] = value
    with pytest.raises(DecodeError) as info:
        decode(HISTORY_DECODER, msgspec.json.encode(doc))
    assert info.value.path == f"$.data[{i}].events[{j}].{name}"
    assert info.value.message.endswith(f" - at `$.data[{i}].events[{j}].{name}`")


@PROPERTY
@given(
    numoffers=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    data=st.data(),
    value=st.sampled_from(["0.2", None, [], {}, False]),
)
def test_personalized_type_swap_error_path(
    numoffers: int, seed: int, data: st.DataObject, value: Any
) -> None:
    doc = make_personalized("someone", numoffers=numoffers, wall=1, seed=seed)
    i = data.draw(st.integers(0, len(doc["offers"]) - 1), label="offer")
    j = data.draw(st.integers(0, len(doc["offers"][i]["events"]) - 1), label="event")
    doc["offers"][i]["events"][j]["payout"] = value
    with pytest.raises(DecodeError) as info:
        decode(PERSONALIZED_DECODER, msgspec.json.encode(doc))
    assert info.value.path == f"$.offers[{i}].events[{j}].payout"


# ------------------------------------------------------------------- 2. the validators


def refused(param: str, func: Any, *args: Any, **kwargs: Any) -> InvalidParameterError:
    with pytest.raises(InvalidParameterError) as info:
        func(*args, **kwargs)
    assert info.value.param == param
    assert isinstance(info.value, ValueError)
    return info.value


def has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


any_chars = st.characters(codec=None, exclude_categories=())  # surrogates included
#: Text made of the characters that query and path encoding get wrong most often.
tricky_texts = st.text(st.sampled_from(" +&=;%#/?,.~\\é€🙂\x00\n\ud800"), max_size=20)


@st.composite
def sized_texts(draw: st.DrawFn) -> str:
    """Text whose UTF-8 size lands near a chosen target (often near the 255-byte limit),
    mixing 1- to 4-byte characters, and sometimes a lone surrogate."""
    target = draw(st.integers(250, 260) | st.integers(0, 8) | st.integers(0, 400))
    head = draw(st.text(any_chars, max_size=12))
    pad = draw(st.sampled_from(["a", "é", "€", "🙂"]))  # 1, 2, 3 and 4 bytes
    size = len(head.encode("utf-8", "surrogatepass"))
    tail = pad * max(0, (target - size) // len(pad.encode()))
    return draw(st.sampled_from([head + tail, tail + head]))


@PROPERTY
@given(value=sized_texts() | st.text(any_chars) | tricky_texts)
def test_user_id_domain_is_1_to_255_utf8_bytes(value: str) -> None:
    ok = bool(value) and not has_surrogate(value) and len(value.encode("utf-8")) <= 255
    if ok:
        assert check_user_id(value) is value
        assert check_user_id(value, "uid") is value
    else:
        refused("user_id", check_user_id, value)
        refused("uid", check_user_id, value, "uid")


@PROPERTY
@given(value=st.binary() | st.integers() | st.floats() | st.none() | st.lists(st.text()))
def test_user_id_that_is_not_str_refused(value: object) -> None:
    refused("user_id", check_user_id, value)


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


# ------------------------------------------------------------------- 3. round trips

#: A key with characters that change when percent-encoded.
API_KEY = "941bd1fe-s3cr3t/k+y=&%"


def session() -> AsyncSession:
    return AsyncSession(aff_id=60000, api_key=API_KEY, wall_code="nQ ug&", wall_id=567)


accepted_user_ids = (sized_texts() | st.text(any_chars) | tricky_texts).filter(
    lambda v: bool(v) and not has_surrogate(v) and len(v.encode("utf-8")) <= 255
)


@PROPERTY
@given(user_id=accepted_user_ids)
def test_history_url_round_trips_the_user_id(user_id: str) -> None:
    part = quote(user_id, safe="")
    assert unquote(part) == user_id
    assert parse_qs(f"user_id={part}", strict_parsing=True) == {"user_id": [user_id]}
    # The URL the session actually sends.
    request = session()._history.request(user_id, "")
    url, redacted = request.url, request.redacted
    query = parse_qs(urlsplit(url).query, strict_parsing=True)
    assert query == {"aff_id": ["60000"], "api_key": [API_KEY], "wall_code": ["nQ ug&"],
                     "user_id": [user_id]}
    assert parse_qs(urlsplit(redacted).query)["user_id"] == [user_id]
    assert URL(url, encoded=True).query["user_id"] == user_id


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

    url_text = session()._personalized_request(uid, {"wall": None, "numoffers": 1}).url
    url = URL(url_text, encoded=True)
    assert str(url) == url_text  # nothing re-encoded, nothing normalised away
    assert url.raw_path == path
    assert url.raw_parts == ("/", "api", "v1", "users", segment, "personalized")
    assert url.parts[4] == uid
    assert dict(url.query) == {"wall": "567", "numoffers": "1"}
    # Resolving against the base never climbs out of the users/ directory either.
    base = URL("https://publishers.revenueuniverse.com/")
    assert base.join(URL(path, encoded=True)).raw_path == path


@PROPERTY
@given(lang=st.text(any_chars, max_size=40) | tricky_texts)
def test_lang_round_trips(lang: str) -> None:
    if not lang or has_surrogate(lang):
        refused("lang", history_options, lang=lang)
        return
    options = history_options(lang=lang)
    assert options.startswith("&lang=")
    assert parse_qs(options[1:], strict_parsing=True) == {"lang": [lang]}


@PROPERTY
@given(offer_ids=st.lists(st.integers(min_value=1, max_value=2**63 - 1), min_size=1,
                          max_size=20))
def test_offer_ids_round_trip(offer_ids: list[int]) -> None:
    options = history_options(offer_ids=offer_ids)
    (text,) = parse_qs(options[1:], strict_parsing=True)["offer_ids"]
    assert [int(x) for x in text.split(",")] == offer_ids
    assert history_options(offer_ids=iter(offer_ids)) == options


@PROPERTY
@given(offer_ids=st.lists(st.integers(max_value=0) | st.integers(min_value=2**63)
                          | st.booleans() | st.floats()
                          | st.integers(1, 10**6).map(str), min_size=1, max_size=3),
       good=st.lists(st.integers(min_value=1, max_value=2**63 - 1), max_size=3),
       data=st.data())
def test_offer_ids_with_a_bad_item_refused(offer_ids: list[object], good: list[int],
                                           data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(good)), label="at")
    mixed: list[object] = [*good[:at], *offer_ids, *good[at:]]
    refused("offer_ids", history_options, offer_ids=mixed)


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
