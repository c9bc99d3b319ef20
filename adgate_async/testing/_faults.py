"""Random, reproducible faults for the stand-in server.

    server = StandInServer(faults=Faults(error_rate=0.1, reset_rate=0.02, seed=7))

Each request draws its fault from the seed, the user id and how many requests that user has
made so far, so a run gives the same faults to the same users whatever order the requests
arrive in. Every request records the fault it got (``RecordedRequest.fault``), so a test can
explain each error its client saw.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cached_property

#: The names a request's ``fault`` can take (None: answered normally).
FAULT_NAMES = ("ban", "ip_ban", "error", "rate_limit", "reset", "truncate", "timeout",
               "slow_body", "scripted")


@dataclass(frozen=True)
class Faults:
    """What fraction of requests get which fault. Rates are probabilities in [0, 1] and
    add up to at most 1; users matching ``ban_pattern`` (a regex, searched in the user id)
    always get a 403 ``USER_BANNED``, and ``ip_ban_pattern`` a 403 ``IP_BANNED``."""

    #: Answer ``error_status`` (a 5xx by default).
    error_rate: float = 0.0
    error_status: int = 500
    #: Answer 429 with ``Retry-After: retry_after``.
    rate_limit_rate: float = 0.0
    retry_after: float = 1.0
    #: Drop the connection without an answer.
    reset_rate: float = 0.0
    #: Send the headers and half the body, then drop the connection.
    truncate_rate: float = 0.0
    #: Never answer (for ``hang_seconds``): the client's timeout must fire.
    timeout_rate: float = 0.0
    hang_seconds: float = 3600.0
    #: Send the body in pieces, ``chunk_delay`` seconds apart (the answer is still good).
    slow_body_rate: float = 0.0
    chunk_delay: float = 0.05
    ban_pattern: str | None = None
    ip_ban_pattern: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        rates = (self.error_rate, self.rate_limit_rate, self.reset_rate, self.truncate_rate,
                 self.timeout_rate, self.slow_body_rate)
        if any(not 0.0 <= r <= 1.0 for r in rates) or sum(rates) > 1.0 + 1e-9:
            raise ValueError("fault rates must each be in [0, 1] and add up to at most 1")
        if not 500 <= self.error_status <= 599:
            raise ValueError("error_status must be a 5xx status")

    @cached_property
    def _table(self) -> tuple[tuple[float, str], ...]:
        table, edge = [], 0.0
        for rate, name in ((self.error_rate, "error"), (self.rate_limit_rate, "rate_limit"),
                           (self.reset_rate, "reset"), (self.truncate_rate, "truncate"),
                           (self.timeout_rate, "timeout"), (self.slow_body_rate, "slow_body")):
            if rate:
                edge += rate
                table.append((edge, name))
        return tuple(table)

    @cached_property
    def _bans(self) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
        return (re.compile(self.ban_pattern) if self.ban_pattern else None,
                re.compile(self.ip_ban_pattern) if self.ip_ban_pattern else None)

    def pick(self, user_id: str, nth: int) -> str | None:
        """The fault for ``user_id``'s ``nth`` request (0-based), or None."""
        user_ban, ip_ban = self._bans
        if user_ban is not None and user_ban.search(user_id):
            return "ban"
        if ip_ban is not None and ip_ban.search(user_id):
            return "ip_ban"
        if not self._table:
            return None
        draw = random.Random(f"{self.seed}:{user_id}:{nth}").random()
        for edge, name in self._table:
            if draw < edge:
                return name
        return None
