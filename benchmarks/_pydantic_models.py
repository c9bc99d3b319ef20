"""pydantic v2 twins of ``adgate_async.models`` (History, Personalized) for the decode benchmark.

Field for field the same names, types, optionality and defaults as the msgspec Structs; frozen
like them; pydantic's defaults otherwise: unknown fields ignored, lax mode (so float fields
accept JSON integers and return floats). Decode with ``Model.model_validate_json(body)``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

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
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


# -- Get History --------------------------------------------------------------------------------


class TimePlayed(_Frozen):
    id: int | None = None
    goal_unit: str | None = None
    goal_unit_count: int | None = None


class AppMetadata(_Frozen):
    app_id: str | None = None
    categories: list[str] | None = None
    screenshot_urls: list[str] | None = None
    video_urls: list[str] | None = None


class HistoryEvent(_Frozen):
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


class HistoryOffer(_Frozen):
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


class History(_Frozen):
    data: list[HistoryOffer]


# -- Get Personalized ---------------------------------------------------------------------------


class OfferEvent(_Frozen):
    event_id: str
    payout: float
    event_description: str | None = None
    user_reward: float | None = None
    conversion_type: int | None = None
    attribution_window: int | None = None


class Creative(_Frozen):
    url: str | None = None
    width: int | None = None
    height: int | None = None
    type: str | None = None


class PersonalizedOffer(_Frozen):
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
    creatives: list[Creative] = Field(default_factory=list)


class Personalized(_Frozen):
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
