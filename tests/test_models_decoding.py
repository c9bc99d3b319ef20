"""Property tests (hypothesis) of both models' decoders through ``decode_body``:
arbitrary bytes and JSON, and vendor documents mutated at a random path with an exact
oracle derived from the models' schema. Every outcome is the expected model or a
``DecodeError`` naming the path. These run the strict decoders (their oracle is JSON's own
types); ``tests/test_models_lenient.py`` runs the lenient defaults against a lenient oracle.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator
from typing import Any

import msgspec
import msgspec.inspect as mi
from hypothesis import assume, given
from hypothesis import strategies as st

from adgate_async._config import MAX_ERROR_BODY_BYTES
from adgate_async._errors import DecodeError
from adgate_async.models import (
    HISTORY_STRICT_DECODER,
    PERSONALIZED_STRICT_DECODER,
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

from ._support import PROPERTY, Decoder, decode

Model = type[History] | type[Personalized]


DECODERS: list[tuple[Decoder, Model]] = [
    (HISTORY_STRICT_DECODER, History),
    (PERSONALIZED_STRICT_DECODER, Personalized),
]


#: A well-formed msgspec error path: ``$``, then ``.name`` and ``[index]`` steps.
PATH_SYNTAX = re.compile(r"\$(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\])*")


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


def outcome(decoder: Decoder, body: bytes) -> Any:
    """The decoded model, or the DecodeError. Any other exception propagates: a failure."""
    try:
        return decode(decoder, body)
    except DecodeError as exc:
        return exc


@PROPERTY
@given(pair=st.sampled_from(DECODERS), body=st.binary(max_size=200))
def test_arbitrary_bytes_give_a_model_or_decode_error(pair: tuple[Decoder, Model],
                                                      body: bytes) -> None:
    decoder, model = pair
    check_outcome(outcome(decoder, body), model, body)


#: Every field name the models know, so that generated JSON reaches past the top level.
FIELD_NAMES = sorted(
    {
        f.encode_name
        for cls in (History, HistoryOffer, HistoryEvent, TimePlayed, AppMetadata, Personalized,
                    PersonalizedOffer, OfferEvent, Creative, ErrorBody)
        for f in msgspec.structs.fields(cls)
    }
)


json_keys = st.sampled_from(FIELD_NAMES) | st.text(max_size=10)


json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
)


json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(json_keys, children, max_size=6),
    max_leaves=25,
)


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


Path = tuple[str | int, ...]


def attr_at(obj: Any, path: Path) -> Any:
    """The same path as ``get_at``, in a decoded model tree."""
    for step in path:
        obj = obj[step] if isinstance(step, int) else getattr(obj, step)
    return obj


def get_at(node: Any, path: Path) -> Any:
    for step in path:
        node = node[step]
    return node


def set_at(node: Any, path: Path, value: Any) -> None:
    get_at(node, path[:-1])[path[-1]] = value


def as_json_data(value: Any) -> Any:
    """A decoded value as plain JSON data: dicts and lists (``to_builtins`` keeps tuples)."""
    return msgspec.json.decode(msgspec.json.encode(value))


def check_same_except(mutated: Any, original: Any, path: Path) -> None:
    """``mutated`` equals ``original`` everywhere but at ``path``."""
    expected = as_json_data(original)
    set_at(expected, path, as_json_data(attr_at(mutated, path)))
    assert as_json_data(mutated) == expected


def default_of(field: mi.Field) -> Any:
    if field.default is not msgspec.NODEFAULT:
        return field.default
    return field.default_factory()


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
            t = only(t, mi.VarTupleType).item_type  # every JSON array is a tuple field
        else:
            struct: mi.StructType = only(t, mi.StructType)
            t = next(f.type for f in struct.fields if f.encode_name == step)
    return t


def field_at(model: Model, path: Path) -> mi.Field:
    struct: mi.StructType = only(schema_at(model, path[:-1]), mi.StructType)
    return next(f for f in struct.fields if f.encode_name == path[-1])


def walk(node: Any, path: Path = ()) -> Iterator[Path]:
    """Every path below ``node`` (not ``node`` itself), parents before children."""
    items: Any = (
        node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list)
        else ()
    )
    for step, child in items:
        yield (*path, step)
        yield from walk(child, (*path, step))


def paths_of(source: Source, *, keys_only: bool = False) -> list[Path]:
    return [p for p in walk(source.doc) if not keys_only or isinstance(p[-1], str)]


def render(path: Path) -> str:
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path)


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


#: One value of each JSON type (and a numeric-looking string, and a float for int fields).
SWAP_VALUES: list[Any] = ["s", "7", 7, 2.5, True, [], {}, None]


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
            ok = isinstance(m, mi.VarTupleType) and not value
        else:  # {}: a struct whose fields are all optional
            ok = isinstance(m, mi.StructType) and not any(f.required for f in m.fields)
        if ok:
            return True
    return False


def expected_value(t: mi.Type, value: Any) -> Any:
    """What an accepted ``value`` decodes to."""
    if isinstance(value, dict):
        return only(t, mi.StructType).cls()
    if isinstance(value, list):  # a JSON array decodes to a tuple
        return tuple(value)
    if (isinstance(value, int) and not isinstance(value, bool)
            and not any(isinstance(m, mi.IntType) for m in members(t))):
        return float(value)
    return value


def swap(source: Source, data: st.DataObject, value: Any) -> tuple[Path, mi.Type, Any]:
    """``value`` put at a drawn path of the document, then decoded: (the path, the type
    declared there, the outcome), the outcome already checked for its general shape."""
    path = data.draw(st.sampled_from(paths_of(source)), label="path")
    declared = schema_at(source.model, path)
    set_at(source.doc, path, copy.deepcopy(value))
    body = msgspec.json.encode(source.doc)
    result = outcome(source.decoder, body)
    check_outcome(result, source.model, body)
    return path, declared, result


def check_swap(source: Source, path: Path, result: Any, accepted: bool, want: Any) -> None:
    """A swapped value's outcome: when ``accepted``, ``want`` at ``path`` (same type) and
    the rest of the document unchanged; else a DecodeError naming ``path``."""
    if accepted:
        assert not isinstance(result, DecodeError), result
        got = attr_at(result, path)
        assert got == want
        assert type(got) is type(want)
        check_same_except(result, source.decoded, path)
    else:
        assert isinstance(result, DecodeError)
        assert result.path == render(path)


@PROPERTY
@given(source=sources(), data=st.data(), value=st.sampled_from(SWAP_VALUES))
def test_swapped_type_or_null(source: Source, data: st.DataObject, value: Any) -> None:
    path, declared, result = swap(source, data, value)
    accepted = accepts(declared, value)
    check_swap(source, path, result, accepted,
               expected_value(declared, value) if accepted else None)


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
