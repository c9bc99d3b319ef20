"""Stdlib dataclass twins of ``adgate_async.models``, built by hand from ``json.loads`` dicts.

What a careful engineer would write without a library: frozen, slotted dataclasses with the
same fields, optionality and defaults as the msgspec Structs, and a ``from_dict`` per class
that builds the nested lists, gives absent optional fields their default and ignores unknown
keys. It does *not* check types or turn JSON integers into floats (``points`` stays ``0``,
not ``0.0``): it does less work than msgspec or pydantic, so its figure is a lower bound.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AppMetadata",
    "Creative",
    "History",
    "HistoryEvent",
    "HistoryOffer",
    "OfferEvent",
    "Personalized",
    "PersonalizedOffer",
    "TimePlayed",
    "decode_history",
    "decode_personalized",
]


# -- Get History --------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True, kw_only=True)
class TimePlayed:
    id: int | None = None
    goal_unit: str | None = None
    goal_unit_count: int | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TimePlayed:
        return cls(
            id=d.get("id"),
            goal_unit=d.get("goal_unit"),
            goal_unit_count=d.get("goal_unit_count"),
        )


@dataclass(slots=True, frozen=True, kw_only=True)
class AppMetadata:
    app_id: str | None = None
    categories: list[str] | None = None
    screenshot_urls: list[str] | None = None
    video_urls: list[str] | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AppMetadata:
        return cls(
            app_id=d.get("app_id"),
            categories=d.get("categories"),
            screenshot_urls=d.get("screenshot_urls"),
            video_urls=d.get("video_urls"),
        )


@dataclass(slots=True, frozen=True, kw_only=True)
class HistoryEvent:
    uuid: str
    name: str
    type: str
    payable: bool
    status: str
    approved_conversions: int
    pending_conversions: int
    flat_points: float | None = None
    flat_promotional_points: float | None = None
    flat_payout: float | None = None
    dynamic_display_type: str | None = None
    dynamic_points: float | None = None
    dynamic_promotional_points: float | None = None
    dynamic_payout: float | None = None
    approved_points: float | None = None
    pending_points: float | None = None
    cancelled_conversions: int = 0
    cancelled_points: float | None = None
    event_type_id: int | None = None
    multiple_conversions_allowed: bool | None = None
    time_played: TimePlayed | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HistoryEvent:
        time_played = d.get("time_played")
        return cls(
            uuid=d["uuid"],
            name=d["name"],
            type=d["type"],
            payable=d["payable"],
            status=d["status"],
            approved_conversions=d["approved_conversions"],
            pending_conversions=d["pending_conversions"],
            flat_points=d.get("flat_points"),
            flat_promotional_points=d.get("flat_promotional_points"),
            flat_payout=d.get("flat_payout"),
            dynamic_display_type=d.get("dynamic_display_type"),
            dynamic_points=d.get("dynamic_points"),
            dynamic_promotional_points=d.get("dynamic_promotional_points"),
            dynamic_payout=d.get("dynamic_payout"),
            approved_points=d.get("approved_points"),
            pending_points=d.get("pending_points"),
            cancelled_conversions=d.get("cancelled_conversions", 0),
            cancelled_points=d.get("cancelled_points"),
            event_type_id=d.get("event_type_id"),
            multiple_conversions_allowed=d.get("multiple_conversions_allowed"),
            time_played=None if time_played is None else TimePlayed.from_dict(time_played),
        )


@dataclass(slots=True, frozen=True, kw_only=True)
class HistoryOffer:
    offer_id: int
    anchor: str
    description: str
    requirements: str
    disclaimer: str
    confirmation_time: str
    categories: list[str]
    icon_url: str
    continue_url: str
    latest_date: int
    points: float
    completed_events: int
    completed: bool
    total_points: float
    total_approved_points: float
    total_pending_points: float
    total_cancelled_points: float
    total_events: int
    total_approved_events: int
    total_pending_events: int
    total_cancelled_events: int
    has_pending_conversions: bool
    contact_url: str
    events: list[HistoryEvent]
    is_game: bool
    total_promotional_points: float | None = None
    next_event: str | None = None
    next_payable_event: str | None = None
    hours_left: int | None = None
    app_metadata: AppMetadata | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HistoryOffer:
        app_metadata = d.get("app_metadata")
        return cls(
            offer_id=d["offer_id"],
            anchor=d["anchor"],
            description=d["description"],
            requirements=d["requirements"],
            disclaimer=d["disclaimer"],
            confirmation_time=d["confirmation_time"],
            categories=d["categories"],
            icon_url=d["icon_url"],
            continue_url=d["continue_url"],
            latest_date=d["latest_date"],
            points=d["points"],
            completed_events=d["completed_events"],
            completed=d["completed"],
            total_points=d["total_points"],
            total_approved_points=d["total_approved_points"],
            total_pending_points=d["total_pending_points"],
            total_cancelled_points=d["total_cancelled_points"],
            total_events=d["total_events"],
            total_approved_events=d["total_approved_events"],
            total_pending_events=d["total_pending_events"],
            total_cancelled_events=d["total_cancelled_events"],
            has_pending_conversions=d["has_pending_conversions"],
            contact_url=d["contact_url"],
            events=[HistoryEvent.from_dict(e) for e in d["events"]],
            is_game=d["is_game"],
            total_promotional_points=d.get("total_promotional_points"),
            next_event=d.get("next_event"),
            next_payable_event=d.get("next_payable_event"),
            hours_left=d.get("hours_left"),
            app_metadata=None if app_metadata is None else AppMetadata.from_dict(app_metadata),
        )


@dataclass(slots=True, frozen=True, kw_only=True)
class History:
    data: list[HistoryOffer]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        return cls(data=[HistoryOffer.from_dict(o) for o in d["data"]])


# -- Get Personalized ---------------------------------------------------------------------------


@dataclass(slots=True, frozen=True, kw_only=True)
class OfferEvent:
    event_id: str
    payout: float
    event_description: str | None = None
    user_reward: float | None = None
    conversion_type: int | None = None
    attribution_window: int | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OfferEvent:
        return cls(
            event_id=d["event_id"],
            payout=d["payout"],
            event_description=d.get("event_description"),
            user_reward=d.get("user_reward"),
            conversion_type=d.get("conversion_type"),
            attribution_window=d.get("attribution_window"),
        )


@dataclass(slots=True, frozen=True, kw_only=True)
class Creative:
    url: str | None = None
    width: int | None = None
    height: int | None = None
    type: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Creative:
        return cls(
            url=d.get("url"),
            width=d.get("width"),
            height=d.get("height"),
            type=d.get("type"),
        )


@dataclass(slots=True, frozen=True, kw_only=True)
class PersonalizedOffer:
    description: str
    offer_terms: str
    offer_type: int
    total_user_reward: float
    events: list[OfferEvent]
    click_url: str
    in_progress: bool
    user_completed: bool
    hot_offers_order: int
    sortmetric: float | None = None
    conversion_rate: float | None = None
    offer_id: int | None = None
    offer_name: str | None = None
    headline: str | None = None
    tag: str | None = None
    category: str | None = None
    total_payout: float | None = None
    attribution_window: int | None = None
    eligible: bool | None = None
    bundle_id: str | None = None
    epc: float | None = None
    tracking_delay: str | None = None
    creatives: list[Creative] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PersonalizedOffer:
        return cls(
            description=d["description"],
            offer_terms=d["offer_terms"],
            offer_type=d["offer_type"],
            total_user_reward=d["total_user_reward"],
            events=[OfferEvent.from_dict(e) for e in d["events"]],
            click_url=d["click_url"],
            in_progress=d["in_progress"],
            user_completed=d["user_completed"],
            hot_offers_order=d["hot_offers_order"],
            sortmetric=d.get("sortmetric"),
            conversion_rate=d.get("conversion_rate"),
            offer_id=d.get("offer_id"),
            offer_name=d.get("offer_name"),
            headline=d.get("headline"),
            tag=d.get("tag"),
            category=d.get("category"),
            total_payout=d.get("total_payout"),
            attribution_window=d.get("attribution_window"),
            eligible=d.get("eligible"),
            bundle_id=d.get("bundle_id"),
            epc=d.get("epc"),
            tracking_delay=d.get("tracking_delay"),
            creatives=[Creative.from_dict(c) for c in d.get("creatives", ())],
        )


@dataclass(slots=True, frozen=True, kw_only=True)
class Personalized:
    status: str
    publisher_id: int
    wall_id: int
    support_id: int
    total: int
    offset: int
    limit: int
    offers: list[PersonalizedOffer]
    experiment_id: str | None = None
    bid_floor: float | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Personalized:
        return cls(
            status=d["status"],
            publisher_id=d["publisher_id"],
            wall_id=d["wall_id"],
            support_id=d["support_id"],
            total=d["total"],
            offset=d["offset"],
            limit=d["limit"],
            offers=[PersonalizedOffer.from_dict(o) for o in d["offers"]],
            experiment_id=d.get("experiment_id"),
            bid_floor=d.get("bid_floor"),
        )


def decode_history(body: bytes) -> History:
    """``json.loads`` then :meth:`History.from_dict`."""
    return History.from_dict(json.loads(body))


def decode_personalized(body: bytes) -> Personalized:
    """``json.loads`` then :meth:`Personalized.from_dict`."""
    return Personalized.from_dict(json.loads(body))
