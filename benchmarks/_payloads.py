"""The bodies every benchmark uses: vendor-shaped histories and personalized responses."""

from __future__ import annotations

import copy
import random
from typing import Any

import msgspec

from adgate_async.testing import VENDOR_HISTORY_SAMPLE, make_personalized


def vendor_history(offers: int, *, seed: int = 7) -> dict[str, Any]:
    """A history of ``offers`` offers shaped like the vendor's sample (one or two events per
    offer, the same fields and nulls), with varied ids, numbers and texts."""
    rng = random.Random(seed)
    template = VENDOR_HISTORY_SAMPLE["data"][0]
    data = []
    for i in range(offers):
        offer = copy.deepcopy(template)
        offer["offer_id"] = 300_000 + i
        offer["anchor"] = f"{template['anchor']} #{i}"
        offer["latest_date"] = 1_676_040_060 + rng.randint(0, 10**7)
        offer["points"] = rng.choice([0, 100, 490])
        offer["total_points"] = rng.choice([100, 490, 1200])
        offer["hours_left"] = rng.choice([None, 24, 720])
        event = offer["events"][0]
        event["uuid"] = f"{rng.getrandbits(128):032x}"
        event["status"] = rng.choice(["viewed", "pending", "completed"])
        if rng.random() < 0.5:
            second = copy.deepcopy(event)
            second["uuid"] = f"{rng.getrandbits(128):032x}"
            second["name"] = "Reach level 10"
            second["type"] = "dynamic"
            second["flat_points"] = second["flat_payout"] = None
            second["dynamic_display_type"] = "up_to"
            second["dynamic_points"] = 1200
            second["dynamic_payout"] = 12.0
            offer["events"].append(second)
        offer["total_events"] = len(offer["events"])
        data.append(offer)
    return {"data": data}


def history_body(offers: int) -> bytes:
    return msgspec.json.encode(vendor_history(offers))


def personalized_body(offers: int) -> bytes:
    doc = make_personalized("bench-user", numoffers=offers, wall=567, include_sortmetric=True)
    return msgspec.json.encode(doc)
