"""Every default the client uses, and every documented bound on an argument, in one place."""

from __future__ import annotations

from typing import Final


class DefaultSeconds(float):
    """A default number of seconds, told apart from the same number passed explicitly
    (``value is TIMEOUT``); otherwise a plain float, and shown as one."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(float(self))


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
# A batch's retry budget: each user's first attempt earns this share of a retry, each retry
# spends one; RETRY_BUDGET_MIN retries are granted up front (so a small batch can retry),
# and the unspent balance never exceeds RETRY_BUDGET_MAX_BALANCE (a long healthy run does not
# save up a storm). Retries of a batch thus stay below MIN + RATIO * users started.
RETRY_BUDGET_RATIO: Final = 0.2
RETRY_BUDGET_MIN: Final = 10
RETRY_BUDGET_MAX_BALANCE: Final = 100.0

# With a caller's own aiohttp session, this default is not applied: its own timeout stands.
TIMEOUT: Final = DefaultSeconds(30.0)
MAX_CONNECTIONS: Final = 100
# Bodies above this are refused unread (the largest real histories are a few MB).
MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024
# Default requests in flight for gather_users / iter_users (never above the pool size).
BULK_CONCURRENCY: Final = 16

# Upper bounds of integer arguments (anything larger is refused before any request).
# Ids (aff_id, wall_id, wall, offer ids) and max_response_bytes: a signed 64-bit integer.
INT64_MAX: Final = 2**63 - 1
MAX_RETRIES_MAX: Final = 100
MAX_CONNECTIONS_MAX: Final = 10_000
# gather_users / iter_users: concurrency (also never above the pool size) and buffer.
BULK_CONCURRENCY_MAX: Final = 10_000
BULK_BUFFER_MAX: Final = 1_000_000
# The lowest max_per_second accepted: one user every 1000 s (about 17 minutes).
MIN_PER_SECOND: Final = 0.001

USER_ID_MAX_BYTES: Final = 255
# Get History's offer_ids filter: at most this many ids (read no further: an endless
# iterable is refused, not consumed; 1,000 ids already make a URL of about 20 KB).
OFFER_IDS_MAX: Final = 1000
NUMOFFERS_MIN: Final = 1
NUMOFFERS_MAX: Final = 500
DEVICES: Final = frozenset({"desktop", "ios", "android"})

LOGGER_NAME: Final = "adgate_async"
REDACTED: Final = "***"

# What an error keeps of what the server sent: its message (and str()) is cut to this many
# characters, and its ``body`` to this many bytes. The whole body is still read and parsed.
MAX_ERROR_MESSAGE_CHARS: Final = 1000
MAX_ERROR_BODY_BYTES: Final = 64 * 1024
