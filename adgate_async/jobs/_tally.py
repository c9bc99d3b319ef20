"""``Tally``: a run's count of results (ok, errors by type) and its fail-fast watch, shared by
a single-process job and by each part run in a worker."""

from __future__ import annotations

from collections import Counter

from .. import UserResult
from ._failfast import FailFast


class Tally:
    """Counts each result; ``add`` says when the service looks down and the run must stop
    (the reason is then in ``stop_reason``)."""

    def __init__(self, fail_fast: int) -> None:
        self.users = 0
        self.ok = 0
        self.errors: Counter[str] = Counter()
        self.stop_reason: str | None = None
        self._fail = FailFast(fail_fast)

    def add(self, result: UserResult) -> bool:
        self.users += 1
        if result.error is None:
            self.ok += 1
        else:
            self.errors[type(result.error).__name__] += 1
        if self._fail.add(result):
            self.stop_reason = self._fail.reason()
            return True
        return False
