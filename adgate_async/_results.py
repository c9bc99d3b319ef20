"""What a batch yields per input id: :class:`UserResult` (Get History) and
:class:`PersonalizedResult` (Get Personalized), and the iterator type of ``iter_users``
(``iter_personalized`` returns a plain :class:`BatchIterator`). The engine (:mod:`._bulk`)
builds them through the ``make_*`` functions here."""

from __future__ import annotations

import msgspec

from ._bulk import BatchIterator
from ._errors import AdGateError
from .models.history import History
from .models.personalized import Personalized

__all__ = [
    "PersonalizedResult",
    "UserResult",
    "UserResultIterator",
    "make_personalized_result",
    "make_user_result",
]


class UserResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome for one user of a history batch: ``history`` or ``error``, never both.

    ``index`` is the id's position in the input (0-based): it tells apart results whose
    ``user_id`` text is the same (a duplicate, or ``5`` and ``"5"``), and maps a result of
    an unordered :meth:`~AsyncSession.iter_users` back to its input.
    """

    user_id: str
    #: The position of this id in the batch's input, counting from 0. Every result of
    #: ``gather_users`` and ``iter_users`` carries it; -1 only on a result built by hand.
    index: int = -1
    history: History | None = None
    error: AdGateError | None = None

    @property
    def ok(self) -> bool:
        """True when the history was fetched."""
        return self.error is None


class PersonalizedResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome for one user of a personalized batch: ``personalized`` or ``error``,
    never both. A ban shows as ``error`` (a :class:`UserBannedError`); ``index`` is the
    id's position in the input, as for :class:`UserResult`.
    """

    user_id: str
    #: The position of this id in the batch's input, counting from 0; -1 only on a result
    #: built by hand.
    index: int = -1
    personalized: Personalized | None = None
    error: AdGateError | None = None

    @property
    def ok(self) -> bool:
        """True when the offers were fetched."""
        return self.error is None


class UserResultIterator(BatchIterator[UserResult]):
    """What :meth:`AsyncSession.iter_users` returns (see :class:`BatchIterator`)."""

    __slots__ = ()


def shown_id(user_id: object) -> str:
    """The text of an input id, for its result; never raises (an id that is not a str is
    refused by the call, and its result must still say which one it was)."""
    if isinstance(user_id, str):
        return user_id
    try:
        return str(user_id)
    except Exception:  # e.g. an int too long to convert, or a broken __str__
        return f"<a {type(user_id).__name__} that cannot be shown>"


def make_user_result(user_id: object, index: int, history: History | None,
                     error: AdGateError | None) -> UserResult:
    text = user_id if type(user_id) is str else shown_id(user_id)  # the common case inline
    return UserResult(user_id=text, index=index, history=history, error=error)


def make_personalized_result(uid: object, index: int, personalized: Personalized | None,
                             error: AdGateError | None) -> PersonalizedResult:
    text = uid if type(uid) is str else shown_id(uid)  # the common case inline
    return PersonalizedResult(user_id=text, index=index, personalized=personalized,
                              error=error)
