import asyncio
import logging
import math
from collections.abc import AsyncIterator

import msgspec
from aiohttp import web

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
ADGATE = web.AppKey("adgate", AsyncSession)
DEADLINE = 10  # seconds for a whole call, retries and any Retry-After wait included


async def adgate_session(app: web.Application) -> AsyncIterator[None]:
    # Credentials and base URLs come from ADGATE_AFF_ID, ADGATE_API_KEY, ADGATE_WALL_CODE,
    # REVU_WALL_ID (and ADGATE_BASE_URL, REVU_BASE_URL when set). The session keeps the
    # defaults (30 s per attempt, 3 retries) for background batches; handlers use a view.
    async with AsyncSession() as session:
        app[ADGATE] = session
        yield  # the app runs here; the session is closed on the way out


def http_error(exc: Exception) -> tuple[int, str, dict[str, str]]:
    """The status, message and headers this app answers with when the offers call fails."""
    if isinstance(exc, InvalidParameterError):  # the caller's id broke a rule; nothing sent
        return 400, f"{exc.param} {exc.rule}", {}
    if isinstance(exc, NotFoundError):
        return 404, "user not found", {}
    if isinstance(exc, UserBannedError):  # definitive: do not serve this user
        return 403, "user banned", {}
    # Not the caller's fault from here on: they get a short message, the log gets the details
    # (its repr never holds the key; it has the support_id to quote to the vendor).
    if isinstance(exc, BannedError):  # IP_BANNED or another 403: the vendor refuses us
        log.error("offers refused: %r", exc)
        return 503, "offers unavailable", {}
    log.warning("offers call failed: %r", exc)
    if isinstance(exc, RateLimitError):
        return 503, "offers busy", {"Retry-After": str(math.ceil(exc.retry_after or 30))}
    if isinstance(exc, APITimeoutError | TimeoutError):
        return 504, "offers timed out", {}
    return 502, "offers unavailable", {}  # 5xx, transport faults, a body that does not decode


async def offers(request: web.Request) -> web.Response:
    # A handler fails sooner than a batch: 3 s per attempt and one retry (a view of the
    # app's session: same pool, nothing new opened).
    session = request.app[ADGATE].with_options(timeout=3, max_retries=1)
    try:
        async with asyncio.timeout(DEADLINE):
            # Server-side calls should also pass ip="<the user's IPv4>" for RevU's geo rules.
            top = await session.get_personalized(request.match_info["user_id"], numoffers=10)
    except (AdGateError, TimeoutError) as exc:
        status, message, headers = http_error(exc)
        return web.json_response({"error": message}, status=status, headers=headers)
    return web.json_response(msgspec.to_builtins(top.offers))


app = web.Application()
app.cleanup_ctx.append(adgate_session)
app.router.add_get("/users/{user_id}/offers", offers)

if __name__ == "__main__":
    web.run_app(app)
