"""The stand-in server itself: what it serves, how it counts, how scripts are consumed."""

from __future__ import annotations

import asyncio

import aiohttp
import msgspec

from adgate_async import History, Personalized
from adgate_async.models import HISTORY_DECODER, PERSONALIZED_DECODER
from adgate_async.testing import (
    VENDOR_HISTORY_SAMPLE,
    VENDOR_SAMPLE_USER_ID,
    Answer,
    StandInServer,
    make_history,
)


async def get(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as client, client.get(url) as resp:
        return resp.status, await resp.read()


async def test_serves_the_vendor_sample_and_generated_users(adgate_server: StandInServer) -> None:
    base = f"{adgate_server.url}/v1/user-based-api/history?aff_id=1&api_key=k&wall_code=w&user_id="
    status, body = await get(base + VENDOR_SAMPLE_USER_ID)
    assert status == 200
    assert msgspec.json.decode(body) == VENDOR_HISTORY_SAMPLE
    status, body = await get(base + "someone")
    assert msgspec.json.decode(body) == make_history("someone", 3)
    assert isinstance(HISTORY_DECODER.decode(body), History)


async def test_rejects_missing_parameters_like_the_vendor(adgate_server: StandInServer) -> None:
    status, body = await get(f"{adgate_server.url}/v1/user-based-api/history?aff_id=1&user_id=u")
    assert status == 400
    assert b"api_key" in body
    status, _ = await get(f"{adgate_server.url}/api/v1/users/u/personalized?wall=1&numoffers=501")
    assert status == 400
    status, _ = await get(f"{adgate_server.url}/api/v1/users/u/personalized?wall=1&numoffers=2"
                          "&device=mobile")
    assert status == 400


async def test_personalized_honours_numoffers_and_sortmetric(adgate_server: StandInServer) -> None:
    status, body = await get(f"{adgate_server.url}/api/v1/users/u/personalized?wall=9&numoffers=7"
                             "&include_sortmetric=true&experiment_id=e1&sid3=s")
    assert status == 200
    doc = PERSONALIZED_DECODER.decode(body)
    assert isinstance(doc, Personalized)
    assert doc.wall_id == 9
    assert doc.experiment_id == "e1"
    assert [o.hot_offers_order for o in doc.offers] == list(range(1, 8))
    assert all(o.sortmetric is not None for o in doc.offers)
    assert all(o.click_url.endswith("&sid3=s") for o in doc.offers)


async def test_scripts_are_consumed_in_order_then_defaults(adgate_server: StandInServer) -> None:
    adgate_server.script("u", Answer.error(500), Answer.error(404), endpoint="history")
    url = f"{adgate_server.url}/v1/user-based-api/history?aff_id=1&api_key=k&wall_code=w&user_id=u"
    assert [(await get(url))[0] for _ in range(3)] == [500, 404, 200]
    assert adgate_server.count("u") == 3
    assert adgate_server.count("u", "personalized") == 0
    adgate_server.reset_counters()
    assert adgate_server.count() == 0


async def test_counts_peak_in_flight(adgate_server: StandInServer) -> None:
    for i in range(6):
        adgate_server.script(f"u{i}", Answer.ok(delay=0.05))
    base = f"{adgate_server.url}/v1/user-based-api/history?aff_id=1&api_key=k&wall_code=w&user_id=u"
    await asyncio.gather(*(get(f"{base}{i}") for i in range(6)))
    assert adgate_server.peak_in_flight == 6
    assert adgate_server.in_flight == 0
