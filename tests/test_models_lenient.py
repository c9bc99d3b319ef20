"""Issue 12 item 3: tolerant decoding of vendor drift.

By default both answers decode leniently (msgspec ``strict=False``): numbers and bools sent
as strings (``"points": "150"``, ``"true"``) are taken; ``AsyncSession(strict=True)`` refuses
them with a ``DecodeError`` naming the path. A value no rule can read (``"lots"``) fails
in both modes; unknown fields are ignored in both. At DEBUG, each field the models do not
know is logged once per process, by its path only (``adgate_async._drift``).

Model level (the decoders, a lenient oracle for hypothesis) and end to end against the
stand-in server (single calls, batches, raw responses).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Iterator
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adgate_async import AsyncSession, DecodeError, _drift
from adgate_async._redact import Redactor
from adgate_async._response import decode_body
from adgate_async.models import (
    HISTORY_DECODER,
    HISTORY_STRICT_DECODER,
    PERSONALIZED_DECODER,
    PERSONALIZED_STRICT_DECODER,
    History,
    Personalized,
)
from adgate_async.testing import Answer, StandInServer, make_history, make_personalized

from ._support import (
    API_KEY,
    PROPERTY,
    assert_logs_clean,
    decode,
    make_session,
    refused,
)
from .test_models_decoding import (
    Source,
    attr_at,
    check_outcome,
    check_swap,
    members,
    only,
    outcome,
    render,
    sources,
    swap,
)

LENIENT = {History: HISTORY_DECODER, Personalized: PERSONALIZED_DECODER}
STRICT = {History: HISTORY_STRICT_DECODER, Personalized: PERSONALIZED_STRICT_DECODER}
MODES = pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])


@pytest.fixture(autouse=True)
def _fresh_drift_log() -> Iterator[None]:
    """The drift log remembers fields per process: each test starts from nothing."""
    _drift.reset()
    yield
    _drift.reset()


# ------------------------------------------------------------------- drifted documents


def history_doc() -> dict[str, Any]:
    return copy.deepcopy(make_history("drift-user", 2, seed=3))


def personalized_doc() -> dict[str, Any]:
    return copy.deepcopy(make_personalized("drift-user", numoffers=2, wall=567, seed=3))


#: (path in the history document, the string sent, the value and type it decodes to)
HISTORY_QUOTED: list[tuple[tuple[str | int, ...], str, Any]] = [
    (("data", 0, "offer_id"), "1477425", 1477425),
    (("data", 0, "points"), "150", 150.0),
    (("data", 0, "total_points"), "1.25", 1.25),
    (("data", 0, "completed_events"), "150", 150),
    (("data", 0, "latest_date"), "1700000000", 1700000000),
    (("data", 0, "completed"), "true", True),
    (("data", 0, "is_game"), "false", False),
    (("data", 1, "has_pending_conversions"), "TRUE", True),
    (("data", 0, "events", 0, "flat_payout"), "1.25", 1.25),
    (("data", 0, "events", 0, "approved_conversions"), "3", 3),
    (("data", 0, "events", 0, "payable"), "1", True),
]

PERSONALIZED_QUOTED: list[tuple[tuple[str | int, ...], str, Any]] = [
    (("wall_id",), "567", 567),
    (("support_id",), "123456", 123456),
    (("offers", 0, "offer_type"), "8", 8),
    (("offers", 0, "total_user_reward"), "150", 150.0),
    (("offers", 0, "events", 0, "payout"), "1.25", 1.25),
    (("offers", 0, "in_progress"), "false", False),
    (("offers", 1, "hot_offers_order"), "2", 2),
]


def set_path(doc: Any, path: tuple[str | int, ...], value: Any) -> None:
    for step in path[:-1]:
        doc = doc[step]
    doc[path[-1]] = value


def quoted_history() -> bytes:
    """A history in which every HISTORY_QUOTED value is sent as a string."""
    doc = history_doc()
    for path, text, _ in HISTORY_QUOTED:
        set_path(doc, path, text)
    return msgspec.json.encode(doc)


def quoted_personalized() -> bytes:
    doc = personalized_doc()
    for path, text, _ in PERSONALIZED_QUOTED:
        set_path(doc, path, text)
    return msgspec.json.encode(doc)


def check_quoted(result: Any, table: list[tuple[tuple[str | int, ...], str, Any]]) -> None:
    for path, _, want in table:
        got = attr_at(result, path)
        assert got == want, path
        assert type(got) is type(want), (path, type(got))


# ------------------------------------------------------------------- the decoders


def test_quoted_numbers_and_bools_decode_by_default() -> None:
    check_quoted(decode(HISTORY_DECODER, quoted_history()), HISTORY_QUOTED)
    check_quoted(decode(PERSONALIZED_DECODER, quoted_personalized()), PERSONALIZED_QUOTED)


@pytest.mark.parametrize(("path", "text", "want"), HISTORY_QUOTED, ids=lambda v: str(v))
def test_strict_decoder_names_the_quoted_field(path: Any, text: str, want: Any) -> None:
    doc = history_doc()
    set_path(doc, path, text)
    with pytest.raises(DecodeError) as info:
        decode(HISTORY_STRICT_DECODER, msgspec.json.encode(doc))
    assert info.value.path == render(path)
    assert "got `str`" in info.value.message


def test_the_same_document_decodes_alike_in_both_modes_when_well_typed() -> None:
    for model, body in ((History, msgspec.json.encode(history_doc())),
                        (Personalized, msgspec.json.encode(personalized_doc()))):
        assert decode(LENIENT[model], body) == decode(STRICT[model], body)


#: Values no lenient rule reads: (path, value, what the error says it expected)
UNREADABLE: list[tuple[tuple[str | int, ...], Any, str]] = [
    (("data", 0, "points"), "lots", "float"),
    (("data", 0, "points"), "", "float"),
    (("data", 0, "points"), " 150", "float"),  # no surrounding space
    (("data", 0, "points"), "1,5", "float"),
    (("data", 0, "points"), True, "float"),  # a bool is never a number
    (("data", 0, "offer_id"), "1.5", "int"),  # not a whole number
    (("data", 0, "offer_id"), 1.5, "int"),
    (("data", 0, "offer_id"), "0x10", "int"),
    (("data", 0, "offer_id"), "+7", "int"),
    (("data", 0, "completed"), "yes", "bool"),
    (("data", 0, "completed"), 2, "bool"),
    (("data", 0, "completed"), "null", "bool"),  # a required bool
    (("data", 0, "anchor"), 150, "str"),  # numbers never become strings
    (("data", 0, "events", 0, "uuid"), True, "str"),
    (("data", 0, "points"), None, "float"),  # null is no number, quoted or not
]


@MODES
@pytest.mark.parametrize(("path", "value", "expected"), UNREADABLE, ids=lambda v: repr(v))
def test_an_unreadable_value_fails_in_both_modes(strict: bool, path: Any, value: Any,
                                                 expected: str) -> None:
    doc = history_doc()
    set_path(doc, path, value)
    decoder = (STRICT if strict else LENIENT)[History]
    with pytest.raises(DecodeError) as info:
        decode(decoder, msgspec.json.encode(doc))
    assert info.value.path == render(path)
    assert f"Expected `{expected}`" in info.value.message
    assert info.value.message.startswith("response body does not match History: ")


@MODES
def test_unknown_fields_are_ignored_in_both_modes(strict: bool) -> None:
    decoders = STRICT if strict else LENIENT
    for model, doc, places in (
        (History, history_doc(), [(), ("data", 0), ("data", 1, "events", 0)]),
        (Personalized, personalized_doc(), [(), ("offers", 0), ("offers", 1, "events", 0)]),
    ):
        plain = decode(decoders[model], msgspec.json.encode(doc))
        for place in places:
            target: Any = doc
            for step in place:
                target = target[step]
            target["new_field"] = {"nested": ["any", 1, None]}
            target["points_v2"] = "150"
        assert decode(decoders[model], msgspec.json.encode(doc)) == plain


def test_quoted_null_is_none_for_optional_numbers_and_bools_only() -> None:
    doc = history_doc()
    set_path(doc, ("data", 0, "hours_left"), "null")  # int | None
    set_path(doc, ("data", 0, "events", 0, "flat_points"), "null")  # float | None
    set_path(doc, ("data", 0, "events", 0, "multiple_conversions_allowed"), "null")
    set_path(doc, ("data", 0, "next_event"), "null")  # str | None: a str stays a str
    result = decode(HISTORY_DECODER, msgspec.json.encode(doc))
    assert result.data[0].hours_left is None
    assert result.data[0].events[0].flat_points is None
    assert result.data[0].events[0].multiple_conversions_allowed is None
    assert result.data[0].next_event == "null"
    with pytest.raises(DecodeError):
        decode(HISTORY_STRICT_DECODER, msgspec.json.encode(doc))


@PROPERTY
@given(number=st.integers(-(2**70), 2**70))
def test_any_quoted_int_decodes_to_that_int(number: int) -> None:
    doc = history_doc()
    set_path(doc, ("data", 0, "offer_id"), str(number))  # an int field
    set_path(doc, ("data", 0, "points"), str(number))  # a float field
    result = decode(HISTORY_DECODER, msgspec.json.encode(doc))
    assert result.data[0].offer_id == number
    assert type(result.data[0].offer_id) is int
    assert result.data[0].points == float(number)
    assert type(result.data[0].points) is float


@PROPERTY
@given(number=st.floats(allow_nan=False, allow_infinity=False))
def test_any_quoted_float_decodes_to_that_float(number: float) -> None:
    doc = history_doc()
    set_path(doc, ("data", 0, "points"), repr(number))
    result = decode(HISTORY_DECODER, msgspec.json.encode(doc))
    assert result.data[0].points == number
    assert math.copysign(1.0, result.data[0].points) == math.copysign(1.0, number)


@pytest.mark.parametrize(("text", "check"), [
    ("nan", math.isnan), ("NaN", math.isnan), ("inf", math.isinf), ("-Infinity", math.isinf),
])
def test_quoted_nan_and_infinity_reach_float_fields(text: str, check: Any) -> None:
    # A documented consequence of msgspec's lenient rules (README, "Models").
    doc = history_doc()
    set_path(doc, ("data", 0, "points"), text)
    assert check(decode(HISTORY_DECODER, msgspec.json.encode(doc)).data[0].points)


# -------------------------------------------- the lenient oracle, on mutated documents

#: Strings and JSON values a drifting proxy may send in place of any value.
LAX_SWAP_VALUES: list[Any] = ["s", "7", "-7", "2.5", "2.0", "1e2", "true", "FALSE", "1", "0",
                              "null", "", 7, 1, 0, 2.0, 2.5, True, False, None, [], {}]


def _number(text: str) -> float | None:
    """``text`` as a JSON number (the lenient rules take JSON's number syntax only)."""
    try:
        value = msgspec.json.decode(text.encode())
    except msgspec.DecodeError:
        return None
    return float(value) if type(value) in (int, float) else None


def lax_expected(t: mi.Type, value: Any) -> tuple[bool, Any]:
    """Whether the lenient decoder takes ``value`` for schema type ``t``, and as what."""
    kinds = members(t)

    def has(kind: type[mi.Type]) -> bool:
        return any(isinstance(m, kind) for m in kinds)

    if isinstance(value, dict):
        ok = has(mi.StructType) and not any(f.required for f in only(t, mi.StructType).fields)
        return ok, only(t, mi.StructType).cls() if ok else None
    if isinstance(value, list):
        return has(mi.VarTupleType) and not value, ()
    if value is None:
        return has(mi.NoneType), None
    if isinstance(value, bool):
        return has(mi.BoolType), value
    if isinstance(value, str):
        if has(mi.StrType):
            return True, value
        if value == "null" and has(mi.NoneType):
            return True, None
        if has(mi.BoolType) and value.lower() in ("true", "false", "1", "0"):
            return True, value.lower() in ("true", "1")
        number = _number(value)
        if number is not None and has(mi.IntType) and number.is_integer():
            return True, int(number)
        if number is not None and has(mi.FloatType):
            return True, number
        return False, None
    if has(mi.IntType) and float(value).is_integer():
        return True, int(value)
    if has(mi.FloatType):
        return True, float(value)
    if has(mi.BoolType) and value in (0, 1) and isinstance(value, int):
        return True, bool(value)
    return False, None


def lenient(source: Source) -> Source:
    source.decoder = LENIENT[source.model]
    return source


@PROPERTY
@given(source=sources().map(lenient), data=st.data(), value=st.sampled_from(LAX_SWAP_VALUES))
def test_lenient_swapped_value_matches_the_oracle(source: Source, data: st.DataObject,
                                                  value: Any) -> None:
    path, declared, result = swap(source, data, value)
    ok, want = lax_expected(declared, value)
    check_swap(source, path, result, ok, want)


# ------------------------------------------------------ end to end, through the session


def drifted(server: StandInServer, user: str = "drift") -> None:
    """``user``'s answers on both endpoints carry quoted numbers and bools."""
    server.always(user, Answer.ok(body=quoted_history()), endpoint="history")
    server.always(user, Answer.ok(body=quoted_personalized()), endpoint="personalized")


async def test_a_session_decodes_quoted_values_by_default(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    drifted(adgate_server)
    check_quoted(await adgate_session.get_history("drift"), HISTORY_QUOTED)
    check_quoted(await adgate_session.get_personalized("drift", numoffers=2),
                 PERSONALIZED_QUOTED)
    raw = await adgate_session.with_raw_response.get_history("drift")
    check_quoted(raw.parse(), HISTORY_QUOTED)
    raw_top = await adgate_session.with_raw_response.get_personalized("drift", numoffers=2)
    check_quoted(raw_top.parse(), PERSONALIZED_QUOTED)
    for result in await adgate_session.gather_users(["drift", "drift"]):
        check_quoted(result.history, HISTORY_QUOTED)
    async with adgate_session.iter_personalized(["drift"], numoffers=2) as results:
        async for item in results:
            check_quoted(item.personalized, PERSONALIZED_QUOTED)
    assert adgate_session.stats.decode_errors == 0


async def test_a_strict_session_refuses_them_in_every_call(adgate_server: StandInServer) -> None:
    drifted(adgate_server)
    first_history = render(HISTORY_QUOTED[0][0])  # the first quoted value met
    first_top = render(PERSONALIZED_QUOTED[0][0])
    async with make_session(strict=True, **adgate_server.session_urls()) as s:
        with pytest.raises(DecodeError) as info:
            await s.get_history("drift")
        assert info.value.path == first_history
        assert "Expected `int`, got `str`" in info.value.message
        with pytest.raises(DecodeError) as info:
            await s.get_personalized("drift", numoffers=2)
        assert info.value.path == first_top
        raw = await s.with_raw_response.get_history("drift")  # the bytes are still there
        with pytest.raises(DecodeError) as info:
            raw.parse()
        assert info.value.path == first_history
        raw_top = await s.with_raw_response.get_personalized("drift", numoffers=2)
        with pytest.raises(DecodeError):
            raw_top.parse()
        for result in await s.gather_users(["drift", "drift"]):
            assert isinstance(result.error, DecodeError)
            assert result.error.path == first_history
        async with s.iter_users(["drift"]) as results:
            async for item in results:
                assert isinstance(item.error, DecodeError)
        for top in await s.gather_personalized(["drift"], numoffers=2):
            assert isinstance(top.error, DecodeError)
            assert top.error.path == first_top
        assert s.stats.decode_errors == 6
        # A well-typed answer is the same model in both modes.
        plain = await s.get_history("someone")
    async with make_session(**adgate_server.session_urls()) as lenient_session:
        assert await lenient_session.get_history("someone") == plain


@MODES
async def test_an_unreadable_value_fails_end_to_end_in_both_modes(
    adgate_server: StandInServer, strict: bool
) -> None:
    doc = history_doc()
    set_path(doc, ("data", 1, "points"), "lots")
    adgate_server.always("lots", Answer.ok(body=msgspec.json.encode(doc)))
    async with make_session(strict=strict, **adgate_server.session_urls()) as s:
        with pytest.raises(DecodeError) as info:
            await s.get_history("lots")
        assert info.value.path == "$.data[1].points"
        assert "Expected `float`, got `str`" in info.value.message
        assert s.stats.decode_errors == 1
        assert adgate_server.count() == 1  # a body that does not decode is not retried


@pytest.mark.parametrize("value", ["yes", 1, 0, None, "true"])
def test_strict_must_be_a_bool(value: Any) -> None:
    exc = refused("strict", make_session, strict=value)
    assert "must be a bool" in str(exc)


# ------------------------------------------------------- fields the models do not know

DRIFT_LINE = "the {} answer carries a field the models do not know: {}"
#: A value no log line may ever show.
PRIVATE = "private-value-of-user-9f3c"


def drift_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if "a field the models do not know" in r.getMessage()]


def with_unknown_fields() -> tuple[bytes, bytes]:
    history = history_doc()
    history["generated_at"] = PRIVATE
    history["data"][0]["new_field"] = PRIVATE
    history["data"][1]["new_field"] = {"deep": PRIVATE}  # not walked into: unknown
    history["data"][1]["events"][0]["bonus_points"] = PRIVATE
    history["data"][0]["app_metadata"] = {"app_id": "1", "rating": PRIVATE}
    history["data"][0]["events"][0]["time_played"] = {"id": 1, "goal_kind": PRIVATE}
    top = personalized_doc()
    top["offers"][1]["creatives"] = [{"url": "u", "alt_text": PRIVATE}]
    top["offers"][0]["events"][0]["payout_usd_cents"] = PRIVATE
    return msgspec.json.encode(history), msgspec.json.encode(top)


HISTORY_UNKNOWN = ["generated_at", "data[].new_field", "data[].events[].bonus_points",
                   "data[].events[].time_played.goal_kind", "data[].app_metadata.rating"]
PERSONALIZED_UNKNOWN = ["offers[].events[].payout_usd_cents", "offers[].creatives[].alt_text"]


async def test_each_unknown_field_is_logged_once_at_debug(
    adgate_server: StandInServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="adgate_async")
    history, top = with_unknown_fields()
    adgate_server.always("new", Answer.ok(body=history), endpoint="history")
    adgate_server.always("new", Answer.ok(body=top), endpoint="personalized")
    async with make_session(**adgate_server.session_urls()) as s:
        await s.get_history("new")
        await s.get_history("new")  # the same fields again: nothing more
        await s.gather_users(["new"] * 3)
        (await s.with_raw_response.get_history("new")).parse()
        await s.get_personalized("new", numoffers=2)
        await s.get_personalized("new", numoffers=2)
    assert sorted(drift_lines(caplog)) == sorted(
        [DRIFT_LINE.format("history", p) for p in HISTORY_UNKNOWN]
        + [DRIFT_LINE.format("personalized", p) for p in PERSONALIZED_UNKNOWN]
    )
    drift = [r for r in caplog.records if "do not know" in r.getMessage()]
    assert {(r.name, r.levelno) for r in drift} == {("adgate_async", logging.DEBUG)}
    assert PRIVATE not in caplog.text
    assert all(PRIVATE not in repr(vars(r)) for r in caplog.records)
    assert_logs_clean(caplog)


async def test_a_strict_session_logs_unknown_fields_too(
    adgate_server: StandInServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="adgate_async")
    adgate_server.always("new", Answer.ok(body=with_unknown_fields()[0]))
    async with make_session(strict=True, **adgate_server.session_urls()) as s:
        await s.get_history("new")
    assert len(drift_lines(caplog)) == len(HISTORY_UNKNOWN)


async def test_nothing_is_logged_or_walked_without_debug(
    adgate_server: StandInServer, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.INFO, logger="adgate_async")

    def walked(*args: object) -> None:
        raise AssertionError("the drift check ran without DEBUG")

    monkeypatch.setattr(_drift, "check", walked)
    adgate_server.always("new", Answer.ok(body=with_unknown_fields()[0]))
    async with make_session(**adgate_server.session_urls()) as s:
        await s.get_history("new")
        await s.gather_users(["new", "new"])
    assert drift_lines(caplog) == []


def test_an_odd_field_name_is_quoted_and_the_key_taken_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="adgate_async")
    doc = history_doc()
    doc["data"][0]["line\nbreak"] = 1
    doc["data"][0][f"echo {API_KEY}"] = 1
    doc["data"][0]["x" * 500] = 1
    body = msgspec.json.encode(doc)
    decode_body(HISTORY_DECODER, body, status=200, method="GET", url="u", attempts=1,
                redactor=Redactor(API_KEY))
    lines = drift_lines(caplog)
    assert 'data[]."line\\nbreak"' in "\n".join(lines)
    assert 'data[]."echo ***"' in "\n".join(lines)
    assert f'data[]."{"x" * _drift.MAX_NAME_CHARS}"...' in "\n".join(lines)
    assert all("\n" not in line for line in lines)
    assert_logs_clean(caplog)


def test_the_work_is_bounded(caplog: pytest.LogCaptureFixture,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    # The first CHECK_FIRST answers of a model are checked, then one in CHECK_EVERY.
    caplog.set_level(logging.DEBUG, logger="adgate_async")
    monkeypatch.setattr(_drift, "CHECK_FIRST", 2)
    monkeypatch.setattr(_drift, "CHECK_EVERY", 3)
    for n in range(10):
        doc = history_doc()
        doc[f"field_{n}"] = 1
        decode(HISTORY_DECODER, msgspec.json.encode(doc))
    logged = [line.rpartition(": ")[2] for line in drift_lines(caplog)]
    assert logged == ["field_0", "field_1", "field_3", "field_6", "field_9"]


def test_at_most_max_paths_are_remembered(caplog: pytest.LogCaptureFixture,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG, logger="adgate_async")
    monkeypatch.setattr(_drift, "MAX_PATHS", 3)
    doc = history_doc()
    for n in range(5):
        doc[f"field_{n}"] = 1
    decode(HISTORY_DECODER, msgspec.json.encode(doc))
    top = personalized_doc()
    top["later"] = 1
    decode(PERSONALIZED_DECODER, msgspec.json.encode(top))
    assert [line.rpartition(": ")[2] for line in drift_lines(caplog)] == [
        "field_0", "field_1", "field_2"]


def test_a_known_document_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="adgate_async")
    for seed in range(5):
        decode(HISTORY_DECODER, msgspec.json.encode(make_history("u", 4, seed=seed)))
        decode(PERSONALIZED_DECODER, msgspec.json.encode(
            make_personalized("u", numoffers=4, wall=1, seed=seed, include_sortmetric=True,
                              experiment_id="e")))
    assert drift_lines(caplog) == []


@pytest.mark.parametrize("depth", [1, 500])
def test_a_deeply_nested_unknown_field_is_logged_by_its_name_only(
    caplog: pytest.LogCaptureFixture, depth: int
) -> None:
    caplog.set_level(logging.DEBUG, logger="adgate_async")
    body = b'{"zz_unknown":' + b"[" * depth + b"]" * depth + b',"data":[]}'
    assert decode(HISTORY_DECODER, body) == History(data=())
    assert drift_lines(caplog) == [DRIFT_LINE.format("history", "zz_unknown")]


def test_nesting_at_the_decoders_limit_never_breaks_the_drift_check(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The plain JSON read of the drift check nests one level more than the typed decode:
    # near the limit the typed decode succeeds and the drift check must give up quietly.
    caplog.set_level(logging.DEBUG, logger="adgate_async")
    outcomes = set()
    for depth in range(800, 1300):
        body = b'{"zz":' + b"[" * depth + b"]" * depth + b',"data":[]}'
        result = outcome(HISTORY_DECODER, body)
        check_outcome(result, History, body)
        outcomes.add(type(result))
    assert outcomes == {History, DecodeError}  # the limit was crossed


def test_an_unknown_field_that_is_not_utf8_never_breaks_the_drift_check(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The typed decode skips an unknown field unread; the plain JSON read refuses the bytes.
    caplog.set_level(logging.DEBUG, logger="adgate_async")
    assert decode(HISTORY_DECODER, b'{"zz":"\xff\xfe","data":[]}') == History(data=())
