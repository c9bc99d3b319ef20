"""msgspec models of both endpoints' responses; their decoders are built once, at import:
lenient (``*_DECODER``, the default: numbers and bools sent as strings are taken) and strict
(``*_STRICT_DECODER``)."""

from .errors import ErrorBody, ErrorDetail
from .history import (
    HISTORY_DECODER,
    HISTORY_STRICT_DECODER,
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
    PERSONALIZED_STRICT_DECODER,
    Creative,
    OfferEvent,
    OfferType,
    Personalized,
    PersonalizedOffer,
)

__all__ = [
    "HISTORY_DECODER",
    "HISTORY_STRICT_DECODER",
    "PERSONALIZED_DECODER",
    "PERSONALIZED_STRICT_DECODER",
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
