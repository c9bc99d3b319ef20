"""The personalized models against the vendor sample, API.md's text and generated
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
    PERSONALIZED_DECODER,
    PERSONALIZED_STRICT_DECODER,
    Creative,
    OfferEvent,
    OfferType,
    Personalized,
    PersonalizedOffer,
)
from adgate_async.testing import (
    VENDOR_PERSONALIZED_SAMPLE,
    VENDOR_SAMPLE_USER_ID,
    make_personalized,
)

from ._support import PROPERTY, decode

# The personalized sample copied verbatim from API.md section 2.
API_MD_PERSONALIZED_SAMPLE = (
    b'{"status": "success", "publisher_id": 1234, "wall_id": 567, "support_id": 987654321,\n'
    b' "total": 143, "offset": 0, "limit": 1,\n'
    b' "offers": [{"offer_id": 46713, "offer_name": "TikTok - Install and Watch 1 Video",\n'
    b'   "headline": "Install & Watch 1 Video on TikTok!", "description": "...",\n'
    b'   "offer_terms": "New users only.", "offer_type": 8, "total_user_reward": 500,\n'
    b'   "events": [{"event_id": "base", "user_reward": 200, "payout": 0.2},\n'
    b'              {"event_id": "lvl10", "user_reward": 300, "payout": 0.3}],\n'
    b'   "click_url": "https://.../click?...&sid3=abc", "in_progress": false,\n'
    b'   "user_completed": false, "hot_offers_order": 1, "sortmetric": 0.87,\n'
    b'   "conversion_rate": 0.12, "creatives": [{"url": "https://cdn.example/icon.png"}]}]}'
)


def decode_personalized(doc: Any) -> Personalized:
    return PERSONALIZED_DECODER.decode(msgspec.json.encode(doc))


def test_vendor_personalized_sample() -> None:
    for decoded in (decode_personalized(VENDOR_PERSONALIZED_SAMPLE),
                    PERSONALIZED_DECODER.decode(API_MD_PERSONALIZED_SAMPLE)):
        assert decoded.status == "success"
        assert decoded.publisher_id == 1234
        assert decoded.wall_id == 567
        assert decoded.support_id == 987654321
        assert decoded.total == 143
        assert decoded.offset == 0
        assert decoded.limit == 1
        assert decoded.experiment_id is None
        assert decoded.bid_floor is None
        assert len(decoded.offers) == 1
        offer = decoded.offers[0]
        assert isinstance(offer, PersonalizedOffer)
        assert offer.offer_id == 46713
        assert offer.offer_name == "TikTok - Install and Watch 1 Video"
        assert offer.headline == "Install & Watch 1 Video on TikTok!"
        assert offer.offer_terms == "New users only."
        assert offer.offer_type == 8
        assert offer.offer_type == OfferType.MOBILE_NON_GAMING
        assert offer.total_user_reward == 500.0
        assert type(offer.total_user_reward) is float
        assert offer.hot_offers_order == 1
        assert offer.sortmetric == 0.87
        assert offer.conversion_rate == 0.12
        assert offer.in_progress is False
        assert offer.user_completed is False
        assert offer.click_url == "https://.../click?...&sid3=abc"
        assert offer.events == (
            OfferEvent(event_id="base", user_reward=200.0, payout=0.2),
            OfferEvent(event_id="lvl10", user_reward=300.0, payout=0.3),
        )
        assert type(decoded.offers) is tuple
        assert type(offer.events) is tuple
        assert type(offer.creatives) is tuple
        assert type(offer.events[0].user_reward) is float
        assert offer.creatives == (Creative(url="https://cdn.example/icon.png"),)
        assert offer.creatives[0].url == "https://cdn.example/icon.png"
        assert offer.creatives[0].width is None


def test_our_personalized_fixture_matches_api_md_text() -> None:
    assert msgspec.json.decode(API_MD_PERSONALIZED_SAMPLE) == VENDOR_PERSONALIZED_SAMPLE


C_ENVELOPE: dict[str, Any] = {
    "status": "success", "publisher_id": 1, "wall_id": 2, "support_id": 3,
    "total": 1, "offset": 0, "limit": 1,
}


# Confirmed (c) names of API.md section 2; sortmetric and conversion_rate are (c) too but are
# only present with include_sortmetric=true, so they are left out here.
C_OFFER: dict[str, Any] = {
    "description": "d",
    "offer_terms": "t",
    "offer_type": 4,
    "total_user_reward": 10,
    "events": [{"event_id": "base", "payout": 1}],
    "click_url": "https://click.example/c",
    "in_progress": True,
    "user_completed": False,
    "hot_offers_order": 1,
}


OPTIONAL_OFFER_FIELDS = [
    "sortmetric", "conversion_rate", "offer_id", "offer_name", "headline", "tag", "category",
    "total_payout", "attribution_window", "eligible", "bundle_id", "epc", "tracking_delay",
]


def test_offer_with_only_confirmed_fields_decodes_with_defaults() -> None:
    doc = {**C_ENVELOPE, "offers": [copy.deepcopy(C_OFFER)]}
    decoded = decode_personalized(doc)
    assert decoded.experiment_id is None
    assert decoded.bid_floor is None
    offer = decoded.offers[0]
    assert offer.description == "d"
    assert offer.offer_type == OfferType.GAMES
    assert offer.total_user_reward == 10.0
    assert offer.in_progress is True
    for name in OPTIONAL_OFFER_FIELDS:
        assert getattr(offer, name) is None, name
    assert offer.creatives == ()  # absent: the shared empty tuple, never a list
    event = offer.events[0]
    assert event == OfferEvent(event_id="base", payout=1.0)
    assert event.event_description is None
    assert event.user_reward is None
    assert event.conversion_type is None
    assert event.attribution_window is None


def test_creative_with_only_size_fields() -> None:
    doc = {**C_ENVELOPE, "offers": [{**C_OFFER, "creatives": [{"width": 10}, {}]}]}
    creatives = decode_personalized(doc).offers[0].creatives
    assert creatives == (Creative(width=10), Creative())
    assert creatives[1].url is None


@pytest.mark.parametrize(
    "field",
    ["description", "offer_terms", "offer_type", "total_user_reward", "events", "click_url",
     "in_progress", "user_completed", "hot_offers_order"],
)
def test_confirmed_offer_fields_are_required(field: str) -> None:
    offer = copy.deepcopy(C_OFFER)
    del offer[field]
    with pytest.raises(msgspec.ValidationError) as info:
        decode_personalized({**C_ENVELOPE, "offers": [offer]})
    assert f"`{field}`" in str(info.value)
    assert str(info.value).endswith("at `$.offers[0]`")


def test_every_optional_field_round_trips_when_present() -> None:
    doc = make_personalized("someone", numoffers=1, wall=9, include_sortmetric=True,
                            bid_floor=0.0, experiment_id="exp-1")
    raw = doc["offers"][0]
    offer = decode_personalized(doc).offers[0]
    for name in OPTIONAL_OFFER_FIELDS:
        assert getattr(offer, name) == raw[name], name
    assert offer.creatives[0] == Creative(**raw["creatives"][0])
    assert offer.events[0].event_description == raw["events"][0]["event_description"]
    assert offer.events[0].conversion_type == raw["events"][0]["conversion_type"]
    assert offer.events[0].attribution_window == raw["events"][0]["attribution_window"]
    decoded = decode_personalized(doc)
    assert decoded.experiment_id == "exp-1"
    assert decoded.bid_floor == 0.0


def personalized_doc() -> dict[str, Any]:
    return copy.deepcopy(VENDOR_PERSONALIZED_SAMPLE)


@pytest.mark.parametrize("value", [42, -1, 12])
def test_unknown_offer_type_decodes_as_int(value: int) -> None:
    doc = personalized_doc()
    doc["offers"][0]["offer_type"] = value
    offer = decode_personalized(doc).offers[0]
    assert offer.offer_type == value
    assert type(offer.offer_type) is int
    with pytest.raises(ValueError, match=str(value)):
        OfferType(offer.offer_type)


def test_offer_type_values_match_api_md() -> None:
    # API.md: 0 Undefined, 1 Casino/Gambling, 2 Loyalty Offers, 3 Non Branded Submits,
    # 4 Games, 5 Trial/Purchase, 6 Surveys, 7 Branded, 8 Mobile non-gaming,
    # 9 Alcohol/Tobacco/Drugs, 10 Other Mature, 11 Social Casinos.
    expected = {
        "UNDEFINED": 0, "CASINO_GAMBLING": 1, "LOYALTY_OFFERS": 2, "NON_BRANDED_SUBMITS": 3,
        "GAMES": 4, "TRIAL_PURCHASE": 5, "SURVEYS": 6, "BRANDED": 7, "MOBILE_NON_GAMING": 8,
        "ALCOHOL_TOBACCO_DRUGS": 9, "OTHER_MATURE": 10, "SOCIAL_CASINOS": 11,
    }
    assert {m.name: m.value for m in OfferType} == expected
    assert sorted(m.value for m in OfferType) == list(range(12))


def test_personalized_unknown_fields_ignored_at_every_level() -> None:
    doc = personalized_doc()
    doc["new_envelope_field"] = 1
    doc["offers"][0]["new_offer_field"] = {"a": [1]}
    doc["offers"][0]["events"][0]["new_event_field"] = None
    doc["offers"][0]["creatives"][0]["alt_text"] = "icon"
    decoded = decode_personalized(doc)
    assert decoded.offers[0].events[0].event_id == "base"
    assert decoded.offers[0].creatives[0] == Creative(url="https://cdn.example/icon.png")


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.__setitem__("wall_id", "567"), "$.wall_id"),
        (lambda d: d["offers"][0].__setitem__("offer_type", "8"), "$.offers[0].offer_type"),
        (lambda d: d["offers"][0].__setitem__("offer_type", 8.0), "$.offers[0].offer_type"),
        (lambda d: d["offers"][0]["events"][1].__setitem__("payout", None),
         "$.offers[0].events[1].payout"),
        (lambda d: d["offers"][0]["creatives"][0].__setitem__("url", 5),
         "$.offers[0].creatives[0].url"),
    ],
)
def test_personalized_wrong_type_names_the_path(mutate: Any, path: str) -> None:
    # Strict decoding (the default takes quoted numbers: tests/test_models_lenient.py).
    doc = personalized_doc()
    mutate(doc)
    with pytest.raises(msgspec.ValidationError) as info:
        PERSONALIZED_STRICT_DECODER.decode(msgspec.json.encode(doc))
    assert str(info.value).endswith(f"at `{path}`")


def test_personalized_missing_event_id_names_the_path() -> None:
    doc = personalized_doc()
    del doc["offers"][0]["events"][1]["event_id"]
    with pytest.raises(msgspec.ValidationError) as info:
        decode_personalized(doc)
    assert "`event_id`" in str(info.value)
    assert str(info.value).endswith("at `$.offers[0].events[1]`")


user_ids = st.text(min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(
    uid=user_ids,
    numoffers=st.integers(min_value=1, max_value=12),
    wall=st.integers(min_value=1, max_value=10**6),
    include_sortmetric=st.booleans(),
    bid_floor=st.none() | st.floats(min_value=0, max_value=2000, allow_nan=False),
    experiment_id=st.none() | st.text(max_size=10),
)
def test_generated_personalized_decodes(
    uid: str,
    numoffers: int,
    wall: int,
    include_sortmetric: bool,
    bid_floor: float | None,
    experiment_id: str | None,
) -> None:
    doc = make_personalized(uid, numoffers=numoffers, wall=wall,
                            include_sortmetric=include_sortmetric, bid_floor=bid_floor,
                            experiment_id=experiment_id)
    decoded = decode_personalized(doc)
    if uid == VENDOR_SAMPLE_USER_ID:
        assert decoded.offers[0].offer_id == 46713
        return
    assert decoded.wall_id == wall
    assert decoded.bid_floor == bid_floor
    assert decoded.experiment_id == experiment_id
    assert decoded.limit == len(decoded.offers) <= numoffers
    ranks = [o.hot_offers_order for o in decoded.offers]
    assert ranks == sorted(ranks)
    for offer in decoded.offers:
        assert (offer.sortmetric is not None) == include_sortmetric
        assert (offer.conversion_rate is not None) == include_sortmetric
        if bid_floor is not None:
            assert offer.total_user_reward >= bid_floor
        assert offer.events[0].event_id == "base"
        assert offer.creatives
        assert offer.creatives[0].url


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
        decode(PERSONALIZED_STRICT_DECODER, msgspec.json.encode(doc))  # strict: "0.2" refused
    assert info.value.path == f"$.offers[{i}].events[{j}].payout"
