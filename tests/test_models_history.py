"""The history models against the vendor sample, API.md's text and generated
documents.
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adgate_async._errors import DecodeError
from adgate_async.models import (
    HISTORY_DECODER,
    HISTORY_STRICT_DECODER,
    PERSONALIZED_DECODER,
    AppMetadata,
    EventStatus,
    EventType,
    GoalUnit,
    History,
    HistoryEvent,
    HistoryOffer,
    Personalized,
    TimePlayed,
)
from adgate_async.testing import (
    VENDOR_HISTORY_SAMPLE,
    VENDOR_PERSONALIZED_SAMPLE,
    VENDOR_SAMPLE_USER_ID,
    make_history,
)

from ._support import PROPERTY, decode

UUID = "7731b964-845d-46f1-8028-10b892ee8a67"


def check_vendor_history(history: History) -> None:
    assert isinstance(history, History)
    assert len(history.data) == 1
    offer = history.data[0]
    assert isinstance(offer, HistoryOffer)
    assert offer.offer_id == 360819
    assert offer.anchor == "Opinion Labs"
    assert offer.icon_url == "https://main-p.agmcdn.com/offers/1613580417599.gif"
    assert offer.latest_date == 1676040060
    assert offer.categories == ("Free", "Surveys", "CPA")
    assert type(offer.categories) is tuple
    assert type(history.data) is tuple
    assert type(offer.events) is tuple
    assert offer.points == 0.0
    assert isinstance(offer.points, float)
    assert offer.total_points == 100.0
    assert isinstance(offer.total_points, float)
    assert offer.total_promotional_points is None
    assert offer.completed is False
    assert offer.completed_events == 0
    assert offer.total_events == 0
    assert offer.has_pending_conversions is False
    assert offer.hours_left == 720
    assert offer.is_game is False
    assert offer.next_event == UUID
    assert offer.next_payable_event == UUID
    assert offer.disclaimer == (
        "This offer is presented to you by ${sitename} on behalf of a third party merchant"
    )
    assert offer.confirmation_time == "Confirms Instantly"
    assert offer.contact_url == "https://adgaterewards.com/contact/nQ/user12345/360819"
    # The vendor's typo is kept as given: URLs are strings, never validated.
    assert offer.continue_url == (
        "ttps://seek.gg/vc/nQ/users/testing-prodege/offers/360819?source_type=live_offer_api"
    )
    # Absent from the sample: defaults.
    assert offer.app_metadata is None

    assert len(offer.events) == 1
    event = offer.events[0]
    assert isinstance(event, HistoryEvent)
    assert event.uuid == UUID
    assert event.name == "Completed"
    assert event.type == "flat"
    assert event.type == EventType.FLAT
    assert event.payable is True
    assert event.event_type_id == 1
    assert event.flat_points == 490
    assert isinstance(event.flat_points, float)
    assert event.flat_payout == 4.9
    assert event.flat_promotional_points is None
    assert event.dynamic_display_type is None
    assert event.dynamic_points is None
    assert event.dynamic_payout is None
    assert event.dynamic_promotional_points is None
    assert event.approved_points == 0.0
    assert event.approved_conversions == 0
    assert event.pending_points == 0.0
    assert event.pending_conversions == 0
    assert event.cancelled_points == 0.0
    assert event.cancelled_conversions == 0
    assert event.status == "viewed"
    assert event.status == EventStatus.VIEWED
    # Absent from the sample: defaults.
    assert event.multiple_conversions_allowed is None
    assert event.time_played is None


def decode_history(doc: Any) -> History:
    return HISTORY_DECODER.decode(msgspec.json.encode(doc))


def test_vendor_history_sample_from_our_fixture() -> None:
    check_vendor_history(decode_history(VENDOR_HISTORY_SAMPLE))


# The vendor's sample copied verbatim from API.md section 1 (corrected: trailing comma removed),
# so that these tests do not depend on our own copy of it in adgate_async.testing.
API_MD_HISTORY_SAMPLE = (
    b'{"data": [{"offer_id": 360819, "icon_url": '
    b'"https://main-p.agmcdn.com/offers/1613580417599.gif",\n'
    b'  "anchor": "Opinion Labs", "latest_date": 1676040060, "points": 0, '
    b'"completed_events": 0,\n'
    b'  "completed": false, "total_points": 100, "total_promotional_points": null,\n'
    b'  "total_approved_points": 0, "total_pending_points": 0, "total_cancelled_points": 0,\n'
    b'  "total_events": 0, "total_approved_events": 0, "total_pending_events": 0,\n'
    b'  "total_cancelled_events": 0,\n'
    b'  "events": [{"uuid": "7731b964-845d-46f1-8028-10b892ee8a67", "name": "Completed",\n'
    b'    "type": "flat", "payable": true, "event_type_id": 1, "flat_points": 490, '
    b'"flat_payout": 4.9,\n'
    b'    "flat_promotional_points": null, "dynamic_display_type": null, '
    b'"dynamic_points": null,\n'
    b'    "dynamic_payout": null, "dynamic_promotional_points": null, "approved_points": 0,\n'
    b'    "approved_conversions": 0, "pending_points": 0, "pending_conversions": 0,\n'
    b'    "cancelled_points": 0, "cancelled_conversions": 0, "status": "viewed"}],\n'
    b'  "next_event": "7731b964-845d-46f1-8028-10b892ee8a67",\n'
    b'  "next_payable_event": "7731b964-845d-46f1-8028-10b892ee8a67",\n'
    b'  "description": "Answer some profile questions about yourself ...",\n'
    b'  "requirements": "Enter your profile information and complete one survey ...",\n'
    b'  "disclaimer": "This offer is presented to you by ${sitename} on behalf of a third '
    b'party merchant",\n'
    b'  "confirmation_time": "Confirms Instantly", "categories": ["Free", "Surveys", "CPA"],\n'
    b'  "contact_url": "https://adgaterewards.com/contact/nQ/user12345/360819",\n'
    b'  "continue_url": '
    b'"ttps://seek.gg/vc/nQ/users/testing-prodege/offers/360819?source_type=live_offer_api",\n'
    b'  "has_pending_conversions": false, "hours_left": 720, "is_game": false}]}'
)


def test_vendor_history_sample_from_api_md_text() -> None:
    check_vendor_history(HISTORY_DECODER.decode(API_MD_HISTORY_SAMPLE))


def test_our_fixture_matches_the_api_md_text() -> None:
    assert msgspec.json.decode(API_MD_HISTORY_SAMPLE) == VENDOR_HISTORY_SAMPLE
    assert make_history(VENDOR_SAMPLE_USER_ID, 7) == VENDOR_HISTORY_SAMPLE


def test_vendor_sample_as_published_with_trailing_comma_is_not_json() -> None:
    # The vendor's own text has a trailing comma after "is_game": false; the corrected
    # document is what the fixtures use. A broken body must fail loudly, not half-decode.
    broken = API_MD_HISTORY_SAMPLE.replace(b'"is_game": false}', b'"is_game": false,}')
    with pytest.raises(msgspec.DecodeError):
        HISTORY_DECODER.decode(broken)


def test_empty_history() -> None:
    assert HISTORY_DECODER.decode(b'{"data": []}') == History(data=())


def history_doc() -> dict[str, Any]:
    """A fresh, mutable copy of the vendor's history sample."""
    return copy.deepcopy(VENDOR_HISTORY_SAMPLE)


def test_float_fields_accept_json_ints() -> None:
    doc = history_doc()
    offer = doc["data"][0]
    offer.update(points=7, total_points=100, total_promotional_points=3,
                 total_approved_points=1, total_pending_points=2, total_cancelled_points=5)
    event = offer["events"][0]
    event.update(flat_points=490, flat_promotional_points=10, flat_payout=5,
                 dynamic_points=1, dynamic_promotional_points=2, dynamic_payout=3,
                 approved_points=4, pending_points=6, cancelled_points=8)
    decoded = decode_history(doc).data[0]
    for name in ("points", "total_points", "total_promotional_points", "total_approved_points",
                 "total_pending_points", "total_cancelled_points"):
        value = getattr(decoded, name)
        assert type(value) is float, name
        assert value == offer[name], name
    ev = decoded.events[0]
    for name in ("flat_points", "flat_promotional_points", "flat_payout", "dynamic_points",
                 "dynamic_promotional_points", "dynamic_payout", "approved_points",
                 "pending_points", "cancelled_points"):
        value = getattr(ev, name)
        assert type(value) is float, name
        assert value == event[name], name


def test_int_fields_stay_int() -> None:
    decoded = decode_history(VENDOR_HISTORY_SAMPLE).data[0]
    for name in ("offer_id", "latest_date", "completed_events", "total_events", "hours_left"):
        assert type(getattr(decoded, name)) is int, name


def test_unknown_fields_are_ignored_at_every_level() -> None:
    doc = history_doc()
    doc["brand_new_envelope_field"] = {"nested": [1, 2, 3]}
    offer = doc["data"][0]
    offer["brand_new_offer_field"] = "x"
    offer["app_metadata"] = {"app_id": "com.example", "store_rating": 4.5}
    event = offer["events"][0]
    event["brand_new_event_field"] = [None, True]
    event["time_played"] = {"id": 1, "goal_unit": "HOURS", "goal_unit_count": 2, "extra": 0}
    decoded = decode_history(doc)
    assert decoded.data[0].offer_id == 360819
    assert decoded.data[0].app_metadata == AppMetadata(app_id="com.example")
    assert decoded.data[0].events[0].time_played == TimePlayed(
        id=1, goal_unit="HOURS", goal_unit_count=2
    )
    assert not hasattr(decoded.data[0], "brand_new_offer_field")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", "refunded"),
        ("type", "hybrid"),
        ("dynamic_display_type", "per_level"),
    ],
)
def test_unknown_event_enum_strings_decode_as_str(field: str, value: str) -> None:
    doc = history_doc()
    doc["data"][0]["events"][0][field] = value
    event = decode_history(doc).data[0].events[0]
    assert getattr(event, field) == value
    assert type(getattr(event, field)) is str


def test_known_enum_values() -> None:
    assert {s.value for s in EventStatus} == {"viewed", "pending", "completed", "cancelled"}
    assert {t.value for t in EventType} == {"flat", "dynamic"}
    assert [g.value for g in GoalUnit] == [
        "NANOS", "MICROS", "MILLIS", "SECONDS", "MINUTES", "HOURS", "HALF_DAYS", "DAYS",
        "WEEKS", "MONTHS", "YEARS", "DECADES", "CENTURIES", "MILLENNIA", "ERAS", "FOREVER",
    ]


@pytest.mark.parametrize("unit", ["FORTNIGHTS", "DAYS"])
def test_time_played_object(unit: str) -> None:
    doc = history_doc()
    doc["data"][0]["events"][0]["time_played"] = {
        "id": 42, "goal_unit": unit, "goal_unit_count": 30,
    }
    doc["data"][0]["events"][0]["multiple_conversions_allowed"] = True
    event = decode_history(doc).data[0].events[0]
    assert event.time_played == TimePlayed(id=42, goal_unit=unit, goal_unit_count=30)
    assert type(event.time_played.goal_unit) is str
    assert event.multiple_conversions_allowed is True


def test_time_played_null() -> None:
    doc = history_doc()
    doc["data"][0]["events"][0]["time_played"] = None
    assert decode_history(doc).data[0].events[0].time_played is None


def test_app_metadata_full() -> None:
    doc = history_doc()
    doc["data"][0]["app_metadata"] = {
        "app_id": "284882215",
        "categories": ["Games", "Puzzle"],
        "screenshot_urls": ["https://cdn.example/1.jpg"],
        "video_urls": ["https://cdn.example/1.mp4"],
    }
    meta = decode_history(doc).data[0].app_metadata
    assert meta == AppMetadata(
        app_id="284882215",
        categories=("Games", "Puzzle"),
        screenshot_urls=("https://cdn.example/1.jpg",),
        video_urls=("https://cdn.example/1.mp4",),
    )
    assert meta is not None
    assert type(meta.app_id) is str  # numeric-looking, kept a string


def test_app_metadata_with_null_members() -> None:
    doc = history_doc()
    doc["data"][0]["app_metadata"] = {
        "app_id": None, "categories": None, "screenshot_urls": None, "video_urls": None,
    }
    assert decode_history(doc).data[0].app_metadata == AppMetadata()


def test_app_metadata_empty_object_and_null() -> None:
    doc = history_doc()
    doc["data"][0]["app_metadata"] = {}
    assert decode_history(doc).data[0].app_metadata == AppMetadata(
        app_id=None, categories=None, screenshot_urls=None, video_urls=None
    )
    doc["data"][0]["app_metadata"] = None
    assert decode_history(doc).data[0].app_metadata is None


@pytest.mark.parametrize(
    "field",
    ["total_promotional_points", "next_event", "next_payable_event", "hours_left"],
)
def test_nullable_offer_fields_accept_null(field: str) -> None:
    doc = history_doc()
    doc["data"][0][field] = None
    assert getattr(decode_history(doc).data[0], field) is None


@pytest.mark.parametrize(
    "field",
    [
        "flat_points", "flat_promotional_points", "flat_payout", "dynamic_display_type",
        "dynamic_points", "dynamic_promotional_points", "dynamic_payout", "approved_points",
        "pending_points", "cancelled_points", "event_type_id", "multiple_conversions_allowed",
    ],
)
def test_nullable_event_fields_accept_null(field: str) -> None:
    doc = history_doc()
    doc["data"][0]["events"][0][field] = None
    assert getattr(decode_history(doc).data[0].events[0], field) is None


def test_dynamic_event() -> None:
    doc = history_doc()
    doc["data"][0]["events"][0].update(
        type="dynamic", flat_points=None, flat_payout=None, dynamic_display_type="commission",
        dynamic_points=250, dynamic_payout=2.5, status="pending",
    )
    event = decode_history(doc).data[0].events[0]
    assert event.type == EventType.DYNAMIC
    assert event.dynamic_display_type == "commission"
    assert event.dynamic_points == 250.0
    assert event.flat_points is None
    assert event.status == EventStatus.PENDING


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("offer_id", "$.data[0]"),
        ("anchor", "$.data[0]"),
        ("events", "$.data[0]"),
        ("is_game", "$.data[0]"),
    ],
)
def test_missing_required_offer_field_names_the_path(field: str, path: str) -> None:
    doc = history_doc()
    del doc["data"][0][field]
    with pytest.raises(msgspec.ValidationError) as info:
        decode_history(doc)
    message = str(info.value)
    assert f"`{field}`" in message
    assert message.endswith(f"at `{path}`")


@pytest.mark.parametrize("field", ["uuid", "status", "payable", "approved_conversions"])
def test_missing_required_event_field_names_the_path(field: str) -> None:
    doc = history_doc()
    del doc["data"][0]["events"][0][field]
    with pytest.raises(msgspec.ValidationError) as info:
        decode_history(doc)
    message = str(info.value)
    assert f"`{field}`" in message
    assert message.endswith("at `$.data[0].events[0]`")


def test_missing_data_names_the_field() -> None:
    with pytest.raises(msgspec.ValidationError, match="`data`"):
        HISTORY_DECODER.decode(b"{}")


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["data"][0].__setitem__("offer_id", "360819"), "$.data[0].offer_id"),
        (lambda d: d["data"][0].__setitem__("points", "0"), "$.data[0].points"),
        (lambda d: d["data"][0].__setitem__("completed", 0), "$.data[0].completed"),
        (lambda d: d["data"][0].__setitem__("categories", "Free"), "$.data[0].categories"),
        (lambda d: d["data"][0].__setitem__("latest_date", 1.5), "$.data[0].latest_date"),
        (lambda d: d["data"][0]["events"][0].__setitem__("flat_points", "490"),
         "$.data[0].events[0].flat_points"),
        (lambda d: d["data"][0]["events"][0].__setitem__("status", 1),
         "$.data[0].events[0].status"),
        (lambda d: d["data"][0].__setitem__("app_metadata", {"app_id": 12}),
         "$.data[0].app_metadata.app_id"),
        (lambda d: d["data"][0]["events"][0].__setitem__("time_played", {"id": "x"}),
         "$.data[0].events[0].time_played.id"),
        (lambda d: d.__setitem__("data", {}), "$.data"),
    ],
)
def test_wrong_type_names_the_path(mutate: Any, path: str) -> None:
    # Strict decoding (the default takes quoted numbers: tests/test_models_lenient.py).
    doc = history_doc()
    mutate(doc)
    with pytest.raises(msgspec.ValidationError) as info:
        HISTORY_STRICT_DECODER.decode(msgspec.json.encode(doc))
    assert str(info.value).endswith(f"at `{path}`")


def test_second_offer_error_path_has_its_index() -> None:
    doc = history_doc()
    bad = copy.deepcopy(doc["data"][0])
    bad["offer_id"] = None
    doc["data"].append(bad)
    with pytest.raises(msgspec.ValidationError, match=r"at `\$\.data\[1\]\.offer_id`$"):
        decode_history(doc)


user_ids = st.text(min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(user_id=user_ids, offers=st.integers(min_value=0, max_value=6), seed=st.integers(0, 99))
def test_generated_history_decodes(user_id: str, offers: int, seed: int) -> None:
    doc = make_history(user_id, offers, seed=seed)
    decoded = decode_history(doc)
    expected = 1 if user_id == VENDOR_SAMPLE_USER_ID else offers
    assert len(decoded.data) == expected
    for raw, offer in zip(doc["data"], decoded.data, strict=True):
        assert offer.offer_id == raw["offer_id"]
        assert offer.total_points == raw["total_points"]
        assert len(offer.events) == len(raw["events"])
        assert (offer.app_metadata is None) == (raw.get("app_metadata") is None)
        for raw_event, event in zip(raw["events"], offer.events, strict=True):
            assert event.uuid == raw_event["uuid"]
            assert event.status == raw_event["status"]
            assert (event.time_played is None) == (raw_event.get("time_played") is None)


def decode_personalized(doc: Any) -> Personalized:
    return PERSONALIZED_DECODER.decode(msgspec.json.encode(doc))


def test_models_are_frozen() -> None:
    history = decode_history(VENDOR_HISTORY_SAMPLE)
    offer = history.data[0]
    event = offer.events[0]
    personalized = decode_personalized(VENDOR_PERSONALIZED_SAMPLE)
    p_offer = personalized.offers[0]
    targets: list[tuple[object, str, object]] = [
        (history, "data", ()),
        (offer, "offer_id", 1),
        (event, "status", "completed"),
        (TimePlayed(id=1), "id", 2),
        (AppMetadata(app_id="a"), "app_id", "b"),
        (personalized, "status", "x"),
        (p_offer, "click_url", "https://evil.example"),
        (p_offer.events[0], "payout", 9.9),
        (p_offer.creatives[0], "url", "x"),
    ]
    for obj, name, value in targets:
        before = getattr(obj, name)
        with pytest.raises(AttributeError):
            setattr(obj, name, value)
        assert getattr(obj, name) == before


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
        decode(HISTORY_STRICT_DECODER, msgspec.json.encode(doc))  # strict: "490" refused
    assert info.value.path == f"$.data[{i}].events[{j}].{name}"
    assert info.value.message.endswith(f" - at `$.data[{i}].events[{j}].{name}`")
