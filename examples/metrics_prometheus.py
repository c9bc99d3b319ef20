"""Attempt durations as a Prometheus histogram, fed from the session's ``on_attempt`` hook.

prometheus-client is not a dependency of adgate_async: ``pip install prometheus-client``.
Serve ``REGISTRY`` as your app already serves metrics (e.g.
``prometheus_client.start_http_server(9100, registry=REGISTRY)``), or use the default
``prometheus_client.REGISTRY`` instead of a registry of your own.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Histogram

from adgate_async import AsyncSession, AttemptInfo

REGISTRY = CollectorRegistry()
ATTEMPT_SECONDS = Histogram(
    "adgate_attempt_seconds",
    "Seconds per HTTP attempt to AdGate / RevU, by endpoint and outcome.",
    ["endpoint", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)


def observe_attempt(info: AttemptInfo) -> None:
    """Few label values only: the status ("200", "503", ...) or, when no answer came, the
    error type ("APITimeoutError", "TransportError")."""
    outcome = str(info.status) if info.status is not None else info.error or "unknown"
    ATTEMPT_SECONDS.labels(info.endpoint, outcome).observe(info.seconds)


def make_session(**settings: Any) -> AsyncSession:
    """The app's one session, every attempt of which lands in the histogram."""
    return AsyncSession(on_attempt=observe_attempt, **settings)
