"""The history models with tuple fields (the shape issue 13 asks for).

A copy of the package's history models (``adgate_async/models/history.py``) with the same
fields, defaults and msgspec options (frozen, kw_only, gc=False), whose array fields are
``tuple[...]``. The tuple side of benchmarks.gc_cost, kept apart from the
package so that the comparison holds whatever the package's models are: CPython stops
tracking a tuple whose items are all untracked, and ``gc=False`` Structs are untracked.
"""

from __future__ import annotations

import msgspec


class TimePlayed(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A play-time goal attached to an event."""

    id: int | None = None
    goal_unit: str | None = None
    goal_unit_count: int | None = None


class AppMetadata(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Store metadata of an app offer; each member may be null."""

    app_id: str | None = None
    categories: tuple[str, ...] | None = None
    screenshot_urls: tuple[str, ...] | None = None
    video_urls: tuple[str, ...] | None = None


class HistoryEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One reward step of an offer, with the user's progress on it.

    Fields are declared in the order the vendor sends them: msgspec decodes fastest that way.
    """

    uuid: str
    name: str
    type: str
    payable: bool
    event_type_id: int | None = None
    flat_points: float | None = None
    flat_payout: float | None = None
    flat_promotional_points: float | None = None
    dynamic_display_type: str | None = None
    dynamic_points: float | None = None
    dynamic_payout: float | None = None
    dynamic_promotional_points: float | None = None
    approved_points: float | None = None
    approved_conversions: int
    pending_points: float | None = None
    pending_conversions: int
    cancelled_points: float | None = None
    cancelled_conversions: int = 0
    status: str
    multiple_conversions_allowed: bool | None = None
    time_played: TimePlayed | None = None


class HistoryOffer(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One offer the user interacted with, and the points earned on it.

    Fields are declared in the order the vendor sends them: msgspec decodes fastest that way.
    """

    offer_id: int
    icon_url: str
    anchor: str
    latest_date: int
    points: float
    completed_events: int
    completed: bool
    total_points: float
    total_promotional_points: float | None = None
    total_approved_points: float
    total_pending_points: float
    total_cancelled_points: float
    total_events: int
    total_approved_events: int
    total_pending_events: int
    total_cancelled_events: int
    events: tuple[HistoryEvent, ...]
    next_event: str | None = None
    next_payable_event: str | None = None
    description: str
    requirements: str
    disclaimer: str
    confirmation_time: str
    categories: tuple[str, ...]
    contact_url: str
    continue_url: str
    has_pending_conversions: bool
    hours_left: int | None = None
    is_game: bool
    app_metadata: AppMetadata | None = None


class History(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The Get History response: every offer the user has interacted with."""

    data: tuple[HistoryOffer, ...]

HISTORY_DECODER = msgspec.json.Decoder(History)
