"""RevU Get Personalized: the top offers for one user, ranked best first.

Only the names the vendor's own pages confirm are required. Names that were reconstructed,
or read from third-party code for the sibling Get Offers feed, are optional and ``None``
(or ``()`` for ``creatives``) when absent. Unknown fields are ignored: to reach a field these
models do not know, use ``session.with_raw_response.get_personalized(...)`` and its ``json()``.

As in the history models, arrays are tuples and every Struct is frozen and ``gc=False``, so
a kept result is never walked by the cyclic garbage collector.
"""

from __future__ import annotations

from enum import IntEnum

import msgspec

__all__ = [
    "Creative",
    "OfferEvent",
    "OfferType",
    "Personalized",
    "PersonalizedOffer",
]


class OfferType(IntEnum):
    """Known values of :attr:`PersonalizedOffer.offer_type` (the field itself stays ``int``,
    so a new category never breaks decoding: ``OfferType(offer.offer_type)`` raises
    ``ValueError`` for a value not listed here)."""

    UNDEFINED = 0
    CASINO_GAMBLING = 1
    LOYALTY_OFFERS = 2
    NON_BRANDED_SUBMITS = 3
    GAMES = 4
    TRIAL_PURCHASE = 5
    SURVEYS = 6
    BRANDED = 7
    MOBILE_NON_GAMING = 8
    ALCOHOL_TOBACCO_DRUGS = 9
    OTHER_MATURE = 10
    SOCIAL_CASINOS = 11


class OfferEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One reward step of a personalized offer."""

    #: ``"base"`` for the base step.
    event_id: str
    #: Publisher payout for this step, in USD.
    payout: float
    event_description: str | None = None
    #: Virtual currency the user earns for this step.
    user_reward: float | None = None
    conversion_type: int | None = None
    #: Days; overrides the offer's window.
    attribution_window: int | None = None


class Creative(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An image for the offer."""

    url: str | None = None
    width: int | None = None
    height: int | None = None
    type: str | None = None


class PersonalizedOffer(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One ranked offer with a click URL already personalized for the user.

    Fields are declared in the order of the vendor's documented example (msgspec decodes
    fastest when the wire order matches); reconstructed fields sit where the stand-in puts them.
    """

    offer_id: int | None = None
    #: Internal / campaign name.
    offer_name: str | None = None
    #: Short marketing headline.
    headline: str | None = None
    #: Show it to the user.
    description: str
    #: Terms and requirements; show it to the user.
    offer_terms: str
    tag: str | None = None
    category: str | None = None
    #: Content category 0..11 (see :class:`OfferType`).
    offer_type: int
    #: Virtual currency over all events.
    total_user_reward: float
    #: Publisher payout in USD over all events.
    total_payout: float | None = None
    #: Days; events may override.
    attribution_window: int | None = None
    events: tuple[OfferEvent, ...]
    #: Complete user-specific tracking URL: serve it unmodified.
    click_url: str
    eligible: bool | None = None
    #: The user has started it.
    in_progress: bool
    #: The user has finished it.
    user_completed: bool
    #: Rank in this response, 1 = best.
    hot_offers_order: int
    #: Mobile app id.
    bundle_id: str | None = None
    #: Earnings per click, network-wide, last 7 days.
    epc: float | None = None
    #: Expected tracking delay (free text).
    tracking_delay: str | None = None
    #: Personalization score; present with ``include_sortmetric=True``.
    sortmetric: float | None = None
    #: Present with ``include_sortmetric=True``.
    conversion_rate: float | None = None
    creatives: tuple[Creative, ...] = ()


class Personalized(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The Get Personalized response envelope."""

    #: ``"success"``.
    status: str
    #: The publisher (affiliate) id.
    publisher_id: int
    wall_id: int
    #: Quote it to the vendor's support.
    support_id: int
    #: Eligible offers before the ``numoffers`` cut.
    total: int
    #: Always 0.
    offset: int
    #: Number of offers returned.
    limit: int
    #: The echo of the request's ``experiment_id``.
    experiment_id: str | None = None
    #: The echo of the floor applied.
    bid_floor: float | None = None
    #: Ranked, best first.
    offers: tuple[PersonalizedOffer, ...]


#: Lenient (the session's default): quoted numbers and bools are taken (``"150"``, ``"true"``).
PERSONALIZED_DECODER = msgspec.json.Decoder(Personalized, strict=False)
#: Strict (``AsyncSession(strict=True)``): every value must have its JSON type.
PERSONALIZED_STRICT_DECODER = msgspec.json.Decoder(Personalized)
