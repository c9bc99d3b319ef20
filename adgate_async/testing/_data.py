"""Response documents for the stand-in server: the vendors' samples and generated users.

Generated data is deterministic: the same user id and seed always give the same document,
shaped exactly as the vendors document it (nullable fields null some of the time, optional
parts present some of the time), so tests can compare against it.
"""

from __future__ import annotations

import random
import zlib
from typing import Any

#: The user id whose history is the vendor's own sample response (corrected).
VENDOR_SAMPLE_USER_ID = "user12345"

#: The vendor's sample Get History response, with its trailing comma removed.
VENDOR_HISTORY_SAMPLE: dict[str, Any] = {
    "data": [
        {
            "offer_id": 360819,
            "icon_url": "https://main-p.agmcdn.com/offers/1613580417599.gif",
            "anchor": "Opinion Labs",
            "latest_date": 1676040060,
            "points": 0,
            "completed_events": 0,
            "completed": False,
            "total_points": 100,
            "total_promotional_points": None,
            "total_approved_points": 0,
            "total_pending_points": 0,
            "total_cancelled_points": 0,
            "total_events": 0,
            "total_approved_events": 0,
            "total_pending_events": 0,
            "total_cancelled_events": 0,
            "events": [
                {
                    "uuid": "7731b964-845d-46f1-8028-10b892ee8a67",
                    "name": "Completed",
                    "type": "flat",
                    "payable": True,
                    "event_type_id": 1,
                    "flat_points": 490,
                    "flat_payout": 4.9,
                    "flat_promotional_points": None,
                    "dynamic_display_type": None,
                    "dynamic_points": None,
                    "dynamic_payout": None,
                    "dynamic_promotional_points": None,
                    "approved_points": 0,
                    "approved_conversions": 0,
                    "pending_points": 0,
                    "pending_conversions": 0,
                    "cancelled_points": 0,
                    "cancelled_conversions": 0,
                    "status": "viewed",
                }
            ],
            "next_event": "7731b964-845d-46f1-8028-10b892ee8a67",
            "next_payable_event": "7731b964-845d-46f1-8028-10b892ee8a67",
            "description": "Answer some profile questions about yourself ...",
            "requirements": "Enter your profile information and complete one survey ...",
            "disclaimer": (
                "This offer is presented to you by ${sitename} on behalf of a third party "
                "merchant"
            ),
            "confirmation_time": "Confirms Instantly",
            "categories": ["Free", "Surveys", "CPA"],
            "contact_url": "https://adgaterewards.com/contact/nQ/user12345/360819",
            "continue_url": (
                "ttps://seek.gg/vc/nQ/users/testing-prodege/offers/360819"
                "?source_type=live_offer_api"
            ),
            "has_pending_conversions": False,
            "hours_left": 720,
            "is_game": False,
        }
    ]
}

#: A Get Personalized response built from the vendor's confirmed field names.
VENDOR_PERSONALIZED_SAMPLE: dict[str, Any] = {
    "status": "success",
    "publisher_id": 1234,
    "wall_id": 567,
    "support_id": 987654321,
    "total": 143,
    "offset": 0,
    "limit": 1,
    "offers": [
        {
            "offer_id": 46713,
            "offer_name": "TikTok - Install and Watch 1 Video",
            "headline": "Install & Watch 1 Video on TikTok!",
            "description": "...",
            "offer_terms": "New users only.",
            "offer_type": 8,
            "total_user_reward": 500,
            "events": [
                {"event_id": "base", "user_reward": 200, "payout": 0.2},
                {"event_id": "lvl10", "user_reward": 300, "payout": 0.3},
            ],
            "click_url": "https://.../click?...&sid3=abc",
            "in_progress": False,
            "user_completed": False,
            "hot_offers_order": 1,
            "sortmetric": 0.87,
            "conversion_rate": 0.12,
            "creatives": [{"url": "https://cdn.example/icon.png"}],
        }
    ],
}

_CATEGORIES = ["Free", "Surveys", "CPA", "Games", "Apps", "Shopping", "Trials", "Video"]
_ANCHORS = ["Opinion Labs", "Raid: Shadow Legends", "Monopoly Go", "Survey Junkie", "Swagbucks",
            "Coin Master", "Bingo Blitz", "Lords Mobile", "Cash App", "Disney+ Trial"]
_EVENT_NAMES = ["Install", "Reach level 10", "Reach level 25", "Complete tutorial",
                "First purchase", "Completed", "Register", "Play for 30 minutes"]
_STATUSES = ["viewed", "pending", "completed", "cancelled"]
_GOAL_UNITS = ["MINUTES", "HOURS", "DAYS"]


def _rng(user_id: str, seed: int, salt: int) -> random.Random:
    return random.Random((zlib.crc32(user_id.encode("utf-8", "surrogatepass")) << 16) ^ seed
                         ^ (salt << 48))


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def _history_event(rng: random.Random) -> dict[str, Any]:
    dynamic = rng.random() < 0.25
    payable = rng.random() < 0.9
    approved = rng.randint(0, 2)
    pending = rng.randint(0, 1)
    cancelled = rng.randint(0, 1) if rng.random() < 0.1 else 0
    points = float(rng.choice([0, 50, 100, 250, 490, 1200])) if payable else 0.0
    event: dict[str, Any] = {
        "uuid": _uuid(rng),
        "name": rng.choice(_EVENT_NAMES),
        "type": "dynamic" if dynamic else "flat",
        "multiple_conversions_allowed": rng.random() < 0.2,
        "payable": payable,
        "status": rng.choice(_STATUSES),
        "flat_points": None if dynamic else points,
        "flat_promotional_points": None,
        "flat_payout": None if dynamic else round(points / 100, 2),
        "dynamic_display_type": rng.choice(["up_to", "commission"]) if dynamic else None,
        "dynamic_points": points if dynamic else None,
        "dynamic_promotional_points": None,
        "dynamic_payout": round(points / 100, 2) if dynamic else None,
        "approved_conversions": approved,
        "approved_points": approved * points,
        "pending_conversions": pending,
        "pending_points": pending * points,
        "cancelled_conversions": cancelled,
        "cancelled_points": cancelled * points,
        "event_type_id": rng.choice([1, 2, 3, None]),
        "time_played": None,
    }
    if rng.random() < 0.15:
        event["time_played"] = {"id": rng.randint(1, 9999), "goal_unit": rng.choice(_GOAL_UNITS),
                                "goal_unit_count": rng.randint(1, 120)}
    if rng.random() < 0.2:
        event["flat_promotional_points"] = None if dynamic else points * 1.5
    return event


def _history_offer(rng: random.Random, user_id: str, index: int) -> dict[str, Any]:
    offer_id = rng.randint(100_000, 999_999)
    events = [_history_event(rng) for _ in range(rng.randint(1, 4))]
    approved = [e for e in events if e["approved_conversions"]]
    pending = [e for e in events if e["pending_conversions"]]
    cancelled = [e for e in events if e["cancelled_conversions"]]
    payable = [e for e in events if e["payable"]]
    is_game = rng.random() < 0.4
    anchor = rng.choice(_ANCHORS)
    offer: dict[str, Any] = {
        "offer_id": offer_id,
        "anchor": anchor,
        "description": f"{anchor}: follow the steps below to earn points.",
        "requirements": "New users only. Complete every step within the time limit.",
        "disclaimer": ("This offer is presented to you by ${sitename} on behalf of a third "
                       "party merchant"),
        "confirmation_time": rng.choice(["Confirms Instantly", "Confirms in 24 hours",
                                         "Confirms in 30 days"]),
        "categories": rng.sample(_CATEGORIES, rng.randint(1, 3)),
        "icon_url": f"https://cdn.example.test/offers/{offer_id}.png",
        "continue_url": f"https://play.example.test/u/{index}/offers/{offer_id}",
        "latest_date": 1_676_000_000 + rng.randint(0, 40_000_000),
        "points": sum(e["approved_points"] or 0 for e in events),
        "completed_events": len(approved),
        "completed": len(approved) == len(events),
        "total_points": sum((e["flat_points"] or e["dynamic_points"] or 0) for e in events),
        "total_promotional_points": None if rng.random() < 0.8 else 100.0,
        "total_approved_points": sum(e["approved_points"] or 0 for e in events),
        "total_pending_points": sum(e["pending_points"] or 0 for e in events),
        "total_cancelled_points": sum(e["cancelled_points"] or 0 for e in events),
        "total_events": len(events),
        "total_approved_events": len(approved),
        "total_pending_events": len(pending),
        "total_cancelled_events": len(cancelled),
        "has_pending_conversions": bool(pending),
        "contact_url": f"https://support.example.test/contact/{offer_id}",
        "next_event": events[0]["uuid"] if len(approved) < len(events) else None,
        "next_payable_event": payable[0]["uuid"] if payable else None,
        "hours_left": rng.choice([None, 24, 168, 720]),
        "events": events,
        "is_game": is_game,
    }
    if is_game:
        offer["app_metadata"] = {
            "app_id": str(rng.randint(100_000_000, 999_999_999)),
            "categories": ["Games", rng.choice(["Puzzle", "Strategy", "Casual"])],
            "screenshot_urls": [f"https://cdn.example.test/shots/{offer_id}/{i}.jpg"
                                for i in range(rng.randint(0, 3))],
            "video_urls": None,
        }
    return offer


def make_history(user_id: str, offers: int = 3, *, seed: int = 0) -> dict[str, Any]:
    """A Get History document for ``user_id`` with ``offers`` offers.

    The vendor sample user (:data:`VENDOR_SAMPLE_USER_ID`) always gets the vendor sample.
    """
    if user_id == VENDOR_SAMPLE_USER_ID:
        return VENDOR_HISTORY_SAMPLE
    rng = _rng(user_id, seed, 1)
    return {"data": [_history_offer(rng, user_id, i) for i in range(offers)]}


def make_personalized(
    uid: str,
    *,
    numoffers: int,
    wall: int,
    seed: int = 0,
    sid3: str | None = None,
    include_sortmetric: bool = False,
    bid_floor: float | None = None,
    experiment_id: str | None = None,
    publisher_id: int = 1234,
) -> dict[str, Any]:
    """A Get Personalized document for ``uid``: ``numoffers`` offers at most, ranked."""
    if uid == VENDOR_SAMPLE_USER_ID:
        return VENDOR_PERSONALIZED_SAMPLE
    rng = _rng(uid, seed, 2)
    eligible = rng.randint(numoffers, numoffers + 200)
    offers: list[dict[str, Any]] = []
    for rank in range(1, numoffers + 1):
        events: list[dict[str, Any]] = [
            {"event_id": "base", "event_description": "Install and open",
             "user_reward": float(rng.choice([50, 100, 200])),
             "payout": round(rng.uniform(0.05, 0.5), 2), "conversion_type": 1,
             "attribution_window": 7},
        ]
        for level in range(rng.randint(0, 3)):
            events.append({"event_id": f"lvl{(level + 1) * 10}",
                           "event_description": f"Reach level {(level + 1) * 10}",
                           "user_reward": float(rng.choice([100, 300, 500])),
                           "payout": round(rng.uniform(0.1, 2.0), 2), "conversion_type": 2,
                           "attribution_window": 30})
        offer_id = rng.randint(10_000, 99_999)
        reward = sum(e["user_reward"] for e in events)
        click = f"https://click.example.test/c?o={offer_id}&u={rank}"
        offer: dict[str, Any] = {
            "offer_id": offer_id,
            "offer_name": f"{rng.choice(_ANCHORS)} - {events[-1]['event_description']}",
            "headline": f"{events[-1]['event_description']} and earn!",
            "description": "Install the app and follow the steps.",
            "offer_terms": "New users only.",
            "tag": rng.choice([None, "hot", "new"]),
            "category": rng.choice(["Games", "Apps", "Surveys"]),
            "offer_type": rng.choice([4, 6, 8, 2]),
            "total_user_reward": reward,
            "total_payout": round(sum(e["payout"] for e in events), 2),
            "attribution_window": 30,
            "events": events,
            "click_url": click + (f"&sid3={sid3}" if sid3 else ""),
            "eligible": True,
            "in_progress": rng.random() < 0.1,
            "user_completed": False,
            "hot_offers_order": rank,
            "bundle_id": rng.choice([None, f"com.example.app{offer_id}"]),
            "epc": round(rng.uniform(0.01, 0.3), 3),
            "tracking_delay": rng.choice(["instant", "24 hours"]),
            "creatives": [{"url": f"https://cdn.example.test/c/{offer_id}.png", "width": 256,
                           "height": 256, "type": "icon"}],
        }
        if include_sortmetric:
            offer["sortmetric"] = round(1.0 / rank, 4)
            offer["conversion_rate"] = round(rng.uniform(0.01, 0.3), 3)
        offers.append(offer)
    if bid_floor is not None:
        offers = [o for o in offers if o["total_user_reward"] >= bid_floor]
    return {
        "status": "success",
        "publisher_id": publisher_id,
        "wall_id": wall,
        "support_id": rng.randint(100_000_000, 999_999_999),
        "total": eligible,
        "offset": 0,
        "limit": len(offers),
        "experiment_id": experiment_id,
        "bid_floor": bid_floor,
        "offers": offers,
    }
