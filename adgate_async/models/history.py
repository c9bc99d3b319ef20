"""AdGate Media Get History: ``{"data": [HistoryOffer, ...]}``.

Fields follow the vendor's table field for field. Fields that the vendor's own sample
response leaves out are optional (``None`` when absent); unknown fields are ignored; float
fields accept JSON integers; the default decoder also takes numbers and bools sent as
strings (``"150"``, ``"true"``), the strict one does not; enumerated strings stay ``str`` so
that a value the vendor adds later never breaks decoding (the known values are listed in
the StrEnums below, for comparison: ``event.status == EventStatus.VIEWED``).

Every JSON array is a ``tuple[X, ...]`` and every model a frozen ``gc=False`` Struct: a
decoded history holds no mutable container, cannot be part of a reference cycle, and once
the collector has seen its tuples, nothing in it is tracked by the cyclic GC (kept results
cost no collection time). Keep it that way: no ``list``, ``dict``, ``Any`` or ``object``
field (``tests/test_models_gc.py`` checks every model).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

__all__ = [
    "AppMetadata",
    "DynamicDisplayType",
    "EventStatus",
    "EventType",
    "GoalUnit",
    "History",
    "HistoryEvent",
    "HistoryOffer",
    "TimePlayed",
]


class EventType(StrEnum):
    """Known values of :attr:`HistoryEvent.type`."""

    FLAT = "flat"  #: a fixed number of points
    DYNAMIC = "dynamic"  #: a varying payout


class EventStatus(StrEnum):
    """Known values of :attr:`HistoryEvent.status`."""

    VIEWED = "viewed"
    PENDING = "pending"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class DynamicDisplayType(StrEnum):
    """Known values of :attr:`HistoryEvent.dynamic_display_type`."""

    UP_TO = "up_to"  #: shown as "Up to {points}"
    COMMISSION = "commission"  #: shown as "{points} per ${payout}"


class GoalUnit(StrEnum):
    """Known values of :attr:`TimePlayed.goal_unit`."""

    NANOS = "NANOS"
    MICROS = "MICROS"
    MILLIS = "MILLIS"
    SECONDS = "SECONDS"
    MINUTES = "MINUTES"
    HOURS = "HOURS"
    HALF_DAYS = "HALF_DAYS"
    DAYS = "DAYS"
    WEEKS = "WEEKS"
    MONTHS = "MONTHS"
    YEARS = "YEARS"
    DECADES = "DECADES"
    CENTURIES = "CENTURIES"
    MILLENNIA = "MILLENNIA"
    ERAS = "ERAS"
    FOREVER = "FOREVER"


class TimePlayed(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A play-time goal attached to an event."""

    id: int | None = None
    #: One of :class:`GoalUnit` (kept as ``str``).
    goal_unit: str | None = None
    goal_unit_count: int | None = None


class AppMetadata(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Store metadata of an app offer; each member may be null."""

    #: App Store or Google Play id. Always a ``str``, even when it looks numeric.
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
    #: ``"flat"`` or ``"dynamic"`` (see :class:`EventType`).
    type: str
    payable: bool
    #: 1 Install, 2 Event, 3 Purchase, None for N/A.
    event_type_id: int | None = None
    #: 0 when not payable, None for dynamic events.
    flat_points: float | None = None
    flat_payout: float | None = None
    #: None without a promotion.
    flat_promotional_points: float | None = None
    #: ``"up_to"``, ``"commission"`` or None (see :class:`DynamicDisplayType`).
    dynamic_display_type: str | None = None
    dynamic_points: float | None = None
    dynamic_payout: float | None = None
    dynamic_promotional_points: float | None = None
    approved_points: float | None = None
    approved_conversions: int
    pending_points: float | None = None
    pending_conversions: int
    #: In the vendor's sample, not in its table.
    cancelled_points: float | None = None
    #: In the vendor's sample, not in its table.
    cancelled_conversions: int = 0
    #: ``"viewed"``, ``"pending"``, ``"completed"`` or ``"cancelled"`` (see :class:`EventStatus`).
    status: str
    #: Not in the vendor's sample: None when absent.
    multiple_conversions_allowed: bool | None = None
    time_played: TimePlayed | None = None


class HistoryOffer(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One offer the user interacted with, and the points earned on it.

    Fields are declared in the order the vendor sends them: msgspec decodes fastest that way.
    """

    offer_id: int
    icon_url: str
    #: The offer's title as shown to the user.
    anchor: str
    #: Unix timestamp (seconds) of the latest click or conversion.
    latest_date: int
    #: Points earned, pending excluded.
    points: float
    completed_events: int
    completed: bool
    total_points: float
    total_promotional_points: float | None = None
    total_approved_points: float
    total_pending_points: float
    #: Charged back.
    total_cancelled_points: float
    total_events: int
    total_approved_events: int
    total_pending_events: int
    total_cancelled_events: int
    events: tuple[HistoryEvent, ...]
    #: uuid of the next completable event (non-payable included).
    next_event: str | None = None
    #: uuid of the next payable event.
    next_payable_event: str | None = None
    description: str
    requirements: str
    #: Contains a ``${sitename}`` macro for the publisher to replace.
    disclaimer: str
    confirmation_time: str
    categories: tuple[str, ...]
    contact_url: str
    #: Where to send the user. Kept as given, never validated as a URL.
    continue_url: str
    has_pending_conversions: bool
    #: Session hours left since the first converting click.
    hours_left: int | None = None
    is_game: bool
    #: Not in the vendor's sample: None when absent.
    app_metadata: AppMetadata | None = None


class History(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The Get History response: every offer the user has interacted with."""

    data: tuple[HistoryOffer, ...]


#: Lenient (the session's default): quoted numbers and bools are taken (``"150"``, ``"true"``).
HISTORY_DECODER = msgspec.json.Decoder(History, strict=False)
#: Strict (``AsyncSession(strict=True)``): every value must have its JSON type.
HISTORY_STRICT_DECODER = msgspec.json.Decoder(History)
