"""adgate_async: an asyncio client for AdGate Media Get History and RevU Get Personalized.

    from adgate_async import AsyncSession, UserBannedError

    async with AsyncSession(aff_id=60000, api_key=KEY, wall_code="nQug", wall_id=567) as s:
        history = await s.get_history("user12345")
"""

from ._bulk import BatchIterator
from ._errors import (
    AdGateError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    BannedError,
    DecodeError,
    InvalidParameterError,
    IPBannedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    TransportError,
    UserBannedError,
)
from ._hooks import AttemptHook, AttemptInfo
from ._response import RawResponse, RawResponseCalls
from ._results import PersonalizedResult, UserResult, UserResultIterator
from ._session import AsyncSession
from ._stats import SessionStats
from ._version import __version__
from .models import (
    AppMetadata,
    Creative,
    DynamicDisplayType,
    EventStatus,
    EventType,
    GoalUnit,
    History,
    HistoryEvent,
    HistoryOffer,
    OfferEvent,
    OfferType,
    Personalized,
    PersonalizedOffer,
    TimePlayed,
)

__all__ = [
    "APIStatusError",
    "APITimeoutError",
    "AdGateError",
    "AppMetadata",
    "AsyncSession",
    "AttemptHook",
    "AttemptInfo",
    "BadRequestError",
    "BannedError",
    "BatchIterator",
    "Creative",
    "DecodeError",
    "DynamicDisplayType",
    "EventStatus",
    "EventType",
    "GoalUnit",
    "History",
    "HistoryEvent",
    "HistoryOffer",
    "IPBannedError",
    "InvalidParameterError",
    "NotFoundError",
    "OfferEvent",
    "OfferType",
    "PermissionDeniedError",
    "Personalized",
    "PersonalizedOffer",
    "PersonalizedResult",
    "RateLimitError",
    "RawResponse",
    "RawResponseCalls",
    "ResponseTooLargeError",
    "ServerError",
    "SessionStats",
    "TimePlayed",
    "TransportError",
    "UserBannedError",
    "UserResult",
    "UserResultIterator",
    "__version__",
]
