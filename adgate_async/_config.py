"""Every default the client uses, in one place."""

from __future__ import annotations

from typing import Final

ADGATE_BASE_URL: Final = "https://api.adgatemedia.com"
REVU_BASE_URL: Final = "https://publishers.revenueuniverse.com"

HISTORY_PATH: Final = "/v1/user-based-api/history"
# The user id is inserted between these two parts as one percent-encoded segment.
PERSONALIZED_PATH_PREFIX: Final = "/api/v1/users/"
PERSONALIZED_PATH_SUFFIX: Final = "/personalized"

MAX_RETRIES: Final = 3
RETRY_BACKOFF: Final = 0.5
RETRY_BACKOFF_MAX: Final = 10.0
# A Retry-After above this is not slept on: the typed error is raised at once instead.
RETRY_AFTER_CAP: Final = 60.0
# Each backoff delay is reduced by a random fraction of up to this much.
RETRY_JITTER: Final = 0.25

TIMEOUT: Final = 30.0
MAX_CONNECTIONS: Final = 100
# Bodies above this are refused unread (the largest real histories are a few MB).
MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024
# Default requests in flight for gather_users / iter_users (never above the pool size).
BULK_CONCURRENCY: Final = 16

USER_ID_MAX_BYTES: Final = 255
NUMOFFERS_MIN: Final = 1
NUMOFFERS_MAX: Final = 500
DEVICES: Final = frozenset({"desktop", "ios", "android"})

LOGGER_NAME: Final = "adgate_async"
REDACTED: Final = "***"

# What an error keeps of what the server sent: its message (and str()) is cut to this many
# characters, and its ``body`` to this many bytes. The whole body is still read and parsed.
MAX_ERROR_MESSAGE_CHARS: Final = 1000
MAX_ERROR_BODY_BYTES: Final = 64 * 1024
