import asyncio
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from fastapi import FastAPI, HTTPException, Request

from adgate_async import (
    AdGateError,
    APITimeoutError,
    AsyncSession,
    BannedError,
    InvalidParameterError,
    NotFoundError,
    RateLimitError,
    UserBannedError,
)

log = logging.getLogger(__name__)
DEADLINE = 10  # seconds for a whole call, retries and any Retry-After wait included


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Credentials and base URLs come from ADGATE_AFF_ID, ADGATE_API_KEY, ADGATE_WALL_CODE,
    # REVU_WALL_ID (and ADGATE_BASE_URL, REVU_BASE_URL when set). The session keeps the
    # defaults (30 s per attempt, 3 retries) for background batches; handlers use a view.
    async with AsyncSession() as session:
        app.state.adgate = session
        yield  # the app runs here; the session is closed on the way out


app = FastAPI(lifespan=lifespan)


def http_error(exc: Exception) -> HTTPException:
    """What this app answers with when the offers call fails."""
    if isinstance(exc, InvalidParameterError):  # the caller's id broke a rule; nothing sent
        return HTTPException(400, f"{exc.param} {exc.rule}")
    if isinstance(exc, NotFoundError):
        return HTTPException(404, "user not found")
    if isinstance(exc, UserBannedError):  # definitive: do not serve this user
        return HTTPException(403, "user banned")
    # Not the caller's fault from here on: they get a short message, the log gets the details
    # (its repr never holds the key; it has the support_id to quote to the vendor).
    if isinstance(exc, BannedError):  # IP_BANNED or another 403: the vendor refuses us
        log.error("offers refused: %r", exc)
        return HTTPException(503, "offers unavailable")
    log.warning("offers call failed: %r", exc)
    if isinstance(exc, RateLimitError):
        wait = str(math.ceil(exc.retry_after or 30))
        return HTTPException(503, "offers busy", headers={"Retry-After": wait})
    if isinstance(exc, APITimeoutError | TimeoutError):
        return HTTPException(504, "offers timed out")
    return HTTPException(502, "offers unavailable")  # 5xx, transport, a body that won't decode


@app.get("/users/{user_id}/offers")
async def offers(user_id: str, request: Request) -> list[dict[str, Any]]:
    # A handler fails sooner than a batch: 3 s per attempt and one retry (a view of the
    # app's session: same pool, nothing new opened).
    session: AsyncSession = request.app.state.adgate.with_options(timeout=3, max_retries=1)
    try:
        async with asyncio.timeout(DEADLINE):
            # Server-side calls should also pass ip="<the user's IPv4>" for RevU's geo rules.
            top = await session.get_personalized(user_id, numoffers=10)
    except (AdGateError, TimeoutError) as exc:
        raise http_error(exc) from None
    return [msgspec.to_builtins(offer) for offer in top.offers]
