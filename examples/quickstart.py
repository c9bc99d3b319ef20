"""A tour of adgate_async against the embedded stand-in server: no credentials, no network.

Run it with:  .venv/bin/python examples/quickstart.py
"""

from __future__ import annotations

import asyncio

from adgate_async import AsyncSession, UserBannedError
from adgate_async.testing import VENDOR_SAMPLE_USER_ID, Answer, StandInServer


async def main() -> None:
    async with StandInServer(host="127.0.0.1") as server:
        # Script one failure: every request for "banned-user" gets a 403 USER_BANNED.
        server.always("banned-user", Answer.ban("USER_BANNED"))

        async with AsyncSession(
            aff_id=60000,
            api_key="demo-key-not-a-secret",
            wall_code="nQug",
            wall_id=567,
            **server.session_urls(),  # http:// is accepted for loopback hosts only
        ) as session:
            # AdGate Get History: the vendor's own sample response.
            history = await session.get_history(VENDOR_SAMPLE_USER_ID)
            points = sum(offer.points for offer in history.data)
            events = sum(len(offer.events) for offer in history.data)
            print(
                f"History of {VENDOR_SAMPLE_USER_ID}: {len(history.data)} offer(s), "
                f"{points:g} point(s) earned, {events} event(s)"
            )
            for offer in history.data:
                print(
                    f"  {offer.offer_id} {offer.anchor!r}: {offer.points:g}/"
                    f"{offer.total_points:g} points, {offer.completed_events}/"
                    f"{offer.total_events} events completed"
                )

            # RevU Get Personalized: the top offers for one user, best first.
            top = await session.get_personalized("player-42", numoffers=5, device="android")
            print(
                f"\nTop {top.limit} of {top.total} eligible offers for player-42 "
                f"(support_id {top.support_id}):"
            )
            for p in top.offers:
                print(
                    f"  #{p.hot_offers_order} {p.offer_name or p.headline or p.offer_id}: "
                    f"{p.total_user_reward:g} reward, {len(p.events)} step(s)"
                )

            # A ban is a definitive "do not serve": typed, never retried, key redacted.
            try:
                await session.get_history("banned-user")
            except UserBannedError as exc:
                print(
                    f"\nbanned-user: HTTP {exc.status} {exc.code}, support_id {exc.support_id}, "
                    f"attempts {exc.attempts}\n  url: {exc.url}"
                )

            s = session.stats
            print(
                f"\nStats: {s.requests} requests, {s.attempts} attempts, "
                f"{s.successes} ok, {s.failures} failed, {s.retries} retries, "
                f"{s.bans} ban(s), errors by type {s.errors_by_type}"
            )


if __name__ == "__main__":
    asyncio.run(main())
