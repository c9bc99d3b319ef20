"""msgspec models of both endpoints' responses; their decoders are built once, at import."""

from .errors import ErrorBody, ErrorDetail
from .history import (
    HISTORY_DECODER,
    AppMetadata,
    DynamicDisplayType,
    EventStatus,
    EventType,
    GoalUnit,
    History,
    HistoryEvent,
    HistoryOffer,
    TimePlayed,
)
from .personalized import (
    PERSONALIZED_DECODER,
    Creative,
    OfferEvent,
    OfferType,
    Personalized,
    PersonalizedOffer,
)

__all__ = [
    "HISTORY_DECODER",
    "PERSONALIZED_DECODER",
    "AppMetadata",
    "Creative",
    "DynamicDisplayType",
    "ErrorBody",
    "ErrorDetail",
    "EventStatus",
    "EventType",
    "GoalUnit",
    "History",
    "HistoryEvent",
    "HistoryOffer",
    "OfferEvent",
    "OfferType",
    "Personalized",
    "PersonalizedOffer",
    "TimePlayed",
]
