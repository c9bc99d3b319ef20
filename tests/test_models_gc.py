"""The models hold no mutable container, cannot form a reference cycle, and a decoded result
is invisible to the cyclic garbage collector; array fields are tuples, JSON output is unchanged.

Why it matters: a kept result that the collector tracks is walked again at every collection,
so a batch that keeps its histories slows down as it grows. Every model is a frozen
``gc=False`` Struct (never tracked) and every array field a tuple (CPython stops tracking a
tuple whose items are all untracked at the first collection that sees it).
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections.abc import Iterator
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest

import adgate_async.models as models
from adgate_async.models import (
    HISTORY_DECODER,
    PERSONALIZED_DECODER,
    History,
    Personalized,
)
from adgate_async.models.errors import ErrorBody
from adgate_async.testing import (
    VENDOR_HISTORY_SAMPLE,
    VENDOR_PERSONALIZED_SAMPLE,
    VENDOR_SAMPLE_USER_ID,
    StandInServer,
    make_history,
    make_personalized,
)

from ._support import AFF_ID, API_KEY, WALL_CODE, WALL_ID

MODELS: list[type[msgspec.Struct]] = [
    obj for name in models.__all__
    if isinstance(obj := getattr(models, name), type) and issubclass(obj, msgspec.Struct)
]

#: Leaf types that hold no reference to any other object (enum members are class-level
#: singletons, never part of a decoded value's own graph).
LEAVES = (mi.StrType, mi.IntType, mi.FloatType, mi.BoolType, mi.NoneType, mi.EnumType,
          mi.LiteralType)


def check_type(t: mi.Type, where: str, seen: set[type], edges: set[tuple[type, type]],
               owner: type | None) -> None:
    """Fail unless ``t`` is built only from leaves, tuples and frozen ``gc=False`` Structs."""
    if isinstance(t, LEAVES):
        return
    if isinstance(t, mi.UnionType):
        for member in t.types:
            check_type(member, where, seen, edges, owner)
    elif isinstance(t, mi.VarTupleType):
        check_type(t.item_type, f"{where}[]", seen, edges, owner)
    elif isinstance(t, mi.StructType):
        config = t.cls.__struct_config__
        assert config.frozen, f"{where}: {t.cls.__name__} is not frozen"
        assert not config.gc, f"{where}: {t.cls.__name__} is not gc=False"
        if owner is not None:
            edges.add((owner, t.cls))
        if t.cls in seen:
            return
        seen.add(t.cls)
        for field in t.fields:
            assert field.default_factory is msgspec.NODEFAULT, f"{where}.{field.name}"
            assert field.default in (msgspec.NODEFAULT, None, ()) or isinstance(
                field.default, str | int | float), f"{where}.{field.name}: {field.default!r}"
            check_type(field.type, f"{t.cls.__name__}.{field.name}", seen, edges, t.cls)
    else:  # list, dict, set, Any, object, Raw, a custom or a mutable type: refused
        raise AssertionError(f"{where}: {type(t).__name__} may hold a mutable container")


def model_graph(model: type[msgspec.Struct]) -> set[tuple[type, type]]:
    edges: set[tuple[type, type]] = set()
    check_type(mi.type_info(model), model.__name__, set(), edges, None)
    return edges


def assert_no_type_cycle(edges: set[tuple[type, type]]) -> None:
    """The "model A has a field of model B" graph is a DAG (no model contains itself)."""
    remaining = set(edges)
    nodes = {n for e in edges for n in e}
    while nodes:
        sinks = {n for n in nodes if not any(a == n for a, _ in remaining)}
        assert sinks, f"models refer back to each other: {sorted(map(str, remaining))}"
        nodes -= sinks
        remaining = {(a, b) for a, b in remaining if b not in sinks}


def test_every_model_is_checked() -> None:
    names = {m.__name__ for m in MODELS}
    assert {"History", "HistoryOffer", "HistoryEvent", "TimePlayed", "AppMetadata",
            "Personalized", "PersonalizedOffer", "OfferEvent", "Creative", "ErrorBody",
            "ErrorDetail"} <= names


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_no_model_can_hold_a_mutable_container_or_form_a_cycle(
    model: type[msgspec.Struct],
) -> None:
    # Immutable objects (frozen Structs, tuples, str, numbers) can only point at objects that
    # existed before them, so a value made of them alone cannot contain a cycle: the
    # condition under which msgspec allows gc=False. No field may hold a list, dict, set or
    # an arbitrary object (Any/object/Raw) through which a cycle could be closed.
    assert_no_type_cycle(model_graph(model))


class _Listy(msgspec.Struct, frozen=True, gc=False):
    items: list[str]


class _Dicty(msgspec.Struct, frozen=True, gc=False):
    extra: dict[str, int] | None = None


class _Anyy(msgspec.Struct, frozen=True, gc=False):
    value: Any = None


class _Tracked(msgspec.Struct, frozen=True):
    x: int = 0


class _Mutable(msgspec.Struct, gc=False):
    x: int = 0


class _Holder(msgspec.Struct, frozen=True, gc=False):
    inner: tuple[_Tracked, ...] = ()


def test_the_check_refuses_lists_dicts_any_and_tracked_structs() -> None:
    for cls in (_Listy, _Dicty, _Anyy, _Tracked, _Mutable, _Holder):
        with pytest.raises(AssertionError):
            model_graph(cls)
    with pytest.raises(AssertionError, match="refer back"):
        assert_no_type_cycle({(_Listy, _Dicty), (_Dicty, _Listy)})


# -- decoded values -----------------------------------------------------------------------


def nodes(value: Any) -> Iterator[Any]:
    """``value`` and everything it holds, through Struct fields and tuples."""
    yield value
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            yield from nodes(getattr(value, name))
    elif isinstance(value, tuple):
        for item in value:
            yield from nodes(item)


def body_of(doc: Any) -> bytes:
    return msgspec.json.encode(doc)


SAMPLES = {
    "vendor history": (HISTORY_DECODER, body_of(VENDOR_HISTORY_SAMPLE)),
    "vendor personalized": (PERSONALIZED_DECODER, body_of(VENDOR_PERSONALIZED_SAMPLE)),
    "200-offer history": (HISTORY_DECODER, body_of(make_history("gc-user", 200))),
    "200-offer personalized": (
        PERSONALIZED_DECODER,
        body_of(make_personalized("gc-user", numoffers=200, wall=1, include_sortmetric=True)),
    ),
    "error body": (msgspec.json.Decoder(ErrorBody),
                   b'{"status":"error","support_id":7,"error":{"code":"E","message":"m"}}'),
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_a_decoded_result_is_untracked_by_the_gc(name: str) -> None:
    decoder, body = SAMPLES[name]
    result = decoder.decode(body)
    assert not gc.is_tracked(result)  # a gc=False Struct is never tracked
    gc.collect()  # the first collection that sees a fresh tuple of untracked items untracks it
    seen = list(nodes(result))
    containers = [n for n in seen if isinstance(n, msgspec.Struct | tuple)]
    tracked = [type(n).__name__ for n in containers if gc.is_tracked(n)]
    assert tracked == []
    others = {type(n) for n in seen} - {type(n) for n in containers}
    assert others <= {str, int, float, bool, type(None)}, others
    if name.startswith("200"):
        assert len(containers) > 1000  # the walk did reach every offer and event


def test_kept_results_add_no_tracked_objects() -> None:
    _, body = SAMPLES["200-offer history"]
    gc.collect()
    before = len(gc.get_objects())
    kept = [HISTORY_DECODER.decode(body) for _ in range(20)]
    gc.collect()
    added = len(gc.get_objects()) - before
    # List fields would add about 400 tracked lists per history (8,000 here); tuple fields
    # none at all. The bound leaves room for the `kept` list and incidental objects only.
    assert added < 200, added
    assert len(kept) == 20


def test_arrays_decode_to_tuples_and_every_empty_default_is_the_empty_tuple() -> None:
    history = HISTORY_DECODER.decode(SAMPLES["200-offer history"][1])
    assert type(history.data) is tuple
    offer = history.data[0]
    assert type(offer.events) is tuple
    assert type(offer.categories) is tuple
    metas = [o.app_metadata for o in history.data if o.app_metadata is not None]
    assert metas
    assert all(type(m.categories) is tuple for m in metas if m.categories is not None)
    top = PERSONALIZED_DECODER.decode(SAMPLES["200-offer personalized"][1])
    assert type(top.offers) is tuple
    assert all(type(o.events) is tuple and type(o.creatives) is tuple for o in top.offers)
    bare = msgspec.json.decode(
        b'{"description":"d","offer_terms":"t","offer_type":1,"total_user_reward":1,'
        b'"events":[],"click_url":"c","in_progress":false,"user_completed":false,'
        b'"hot_offers_order":1}', type=models.PersonalizedOffer)
    assert bare.creatives == ()
    assert bare.events == ()
    assert not any(isinstance(n, list) for n in nodes(history))
    assert not any(isinstance(n, list) for n in nodes(top))


def as_lists(value: Any) -> Any:
    """The same Structs with lists where the models have tuples: what list-typed models gave
    (Struct constructors do not check types, so this builds the old shape exactly)."""
    if isinstance(value, msgspec.Struct):
        return msgspec.structs.replace(value, **{
            name: as_lists(getattr(value, name)) for name in value.__struct_fields__})
    if isinstance(value, tuple):
        return [as_lists(item) for item in value]
    return value


@pytest.mark.parametrize("name", ["vendor history", "200-offer history",
                                  "vendor personalized", "200-offer personalized"])
def test_json_output_is_the_same_as_with_lists(name: str) -> None:
    decoder, body = SAMPLES[name]
    result = decoder.decode(body)
    encoded = msgspec.json.encode(result)
    assert encoded == msgspec.json.encode(as_lists(result))
    # to_builtins keeps tuples (they are builtins); json and msgspec write them as arrays.
    builtins = msgspec.to_builtins(result)
    key = "data" if isinstance(result, History) else "offers"
    assert type(builtins[key]) is tuple
    assert msgspec.json.encode(builtins) == encoded
    as_json = msgspec.json.decode(encoded)
    assert type(as_json[key]) is list
    if name == "vendor history":  # the sample's own fields come back as they were sent
        assert known_part(as_json, VENDOR_HISTORY_SAMPLE) == VENDOR_HISTORY_SAMPLE


def known_part(value: Any, like: Any) -> Any:
    """``value`` without the keys that ``like`` lacks (the defaults of absent fields)."""
    if isinstance(value, dict):
        return {k: known_part(v, like[k]) for k, v in value.items() if k in like}
    if isinstance(value, list):
        return [known_part(v, w) for v, w in zip(value, like, strict=True)]
    return value


async def run_cli(*args: str, stdin: bytes = b"") -> tuple[int, bytes, bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADGATE_", "REVU_"))}
    env.update(ADGATE_AFF_ID=str(AFF_ID), ADGATE_API_KEY=API_KEY, ADGATE_WALL_CODE=WALL_CODE,
               REVU_WALL_ID=str(WALL_ID))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adgate_async", *args, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out, err


async def test_cli_output_is_byte_identical_to_the_list_models(
    adgate_server: StandInServer,
) -> None:
    urls = ["--adgate-base-url", adgate_server.url, "--revu-base-url", adgate_server.url]
    old = as_lists(HISTORY_DECODER.decode(body_of(VENDOR_HISTORY_SAMPLE)))
    rc, out, err = await run_cli("history", VENDOR_SAMPLE_USER_ID, *urls)
    assert rc == 0, err
    assert out == msgspec.json.format(msgspec.json.encode(old), indent=2) + b"\n"
    rc, out, err = await run_cli("bulk", "-", "--ordered", *urls,
                                 stdin=VENDOR_SAMPLE_USER_ID.encode() + b"\n")
    assert rc == 0, err
    line = {"index": 0, "user_id": VENDOR_SAMPLE_USER_ID, "history": old}
    assert out == msgspec.json.encode(line) + b"\n"
    rc, out, err = await run_cli("personalized", VENDOR_SAMPLE_USER_ID, "-n", "1", *urls)
    assert rc == 0, err
    top = PERSONALIZED_DECODER.decode(out)
    assert isinstance(top, Personalized)
    assert out == msgspec.json.format(msgspec.json.encode(as_lists(top)), indent=2) + b"\n"
