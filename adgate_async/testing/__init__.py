"""A stand-in server for both endpoints, for tests and demos: no credentials, no network.

See :class:`StandInServer` and :class:`Answer`.
"""

from ._answers import Answer, RecordedRequest
from ._data import (
    VENDOR_HISTORY_SAMPLE,
    VENDOR_PERSONALIZED_SAMPLE,
    VENDOR_SAMPLE_USER_ID,
    make_history,
    make_personalized,
)
from ._faults import FAULT_NAMES, Faults
from ._server import SessionURLs, StandInServer

__all__ = [
    "FAULT_NAMES",
    "VENDOR_HISTORY_SAMPLE",
    "VENDOR_PERSONALIZED_SAMPLE",
    "VENDOR_SAMPLE_USER_ID",
    "Answer",
    "Faults",
    "RecordedRequest",
    "SessionURLs",
    "StandInServer",
    "make_history",
    "make_personalized",
]
