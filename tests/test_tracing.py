"""Tracing never carries the key (issue 12, item 2).

The real OpenTelemetry aiohttp-client instrumentation (``AioHttpClientInstrumentor``, which
patches ``aiohttp.ClientSession`` for the whole process: instrumented in a fixture, undone
after) exports to the SDK's in-memory exporter while the session talks to the stand-in
server: successes, a retried 500, a ban, a refused connection, a timeout, a batch, a
caller's own aiohttp session. No exported span (name, attributes, events, status, links)
and no metric holds the key in any spelling; the spans are there, with the redacted URL. A
``TraceConfig`` given as ``trace_configs=`` sees every aiohttp trace event and never the key
in what it gets (URLs, responses, request infos, exceptions); the key still reaches AdGate.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientRequest, ClientResponse
from aiohttp.client_middlewares import ClientHandlerType
from opentelemetry.instrumentation._semconv import _StabilityMode
from opentelemetry.instrumentation.aiohttp_client import (
    AioHttpClientInstrumentor,
    create_trace_config,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from yarl import URL

from adgate_async import (
    APITimeoutError,
    InvalidParameterError,
    TransportError,
    UserBannedError,
)
from adgate_async.testing import Answer, StandInServer

from ._support import (
    API_KEY,
    assert_error_clean,
    free_port,
    key_leaks,
    make_session,
    refused,
)


class Otel(SimpleNamespace):
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())


@pytest.fixture
def otel() -> Iterator[Otel]:
    """The real instrumentation, on for this test only (it patches aiohttp globally)."""
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    metrics = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[metrics])
    instrumentor = AioHttpClientInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        yield Otel(spans=spans, metrics=metrics)
    finally:
        instrumentor.uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown()


def span_texts(span: ReadableSpan) -> list[str]:
    """Every part of a span an exporter sends, one text each."""
    texts = [span.name, span.to_json(), span.status.description or ""]
    texts += [f"{name}={value!r}" for name, value in (span.attributes or {}).items()]
    for event in span.events:
        texts.append(event.name)
        texts += [f"{name}={value!r}" for name, value in (event.attributes or {}).items()]
    for link in span.links:
        texts.append(repr(link.context))
        texts += [f"{name}={value!r}" for name, value in (link.attributes or {}).items()]
    return texts


def span_url(span: ReadableSpan) -> str:
    attributes = span.attributes or {}
    url = attributes.get("http.url", attributes.get("url.full"))
    assert isinstance(url, str), dict(attributes)
    return url


def check_spans(otel: Otel, count: int, *, endpoint: str = "history") -> list[ReadableSpan]:
    """``count`` spans were exported, none holds the key, each shows the redacted URL; the
    metrics hold no key either."""
    spans = otel.finished()
    assert len(spans) == count, [s.name for s in spans]
    for span in spans:
        for text in span_texts(span):
            assert not key_leaks(text), f"key in span {span.name}: {text[:300]}"
        url = span_url(span)
        assert url.startswith("http://127.0.0.1:")
        if "/v1/user-based-api/history?" in url:
            assert "api_key=***" in url
        else:
            assert "api_key" not in url
        assert ("/personalized?" in url) == (endpoint == "personalized")
    assert not key_leaks(otel.metrics.get_metrics_data().to_json())
    return spans


def statuses(spans: list[ReadableSpan]) -> list[object]:
    return [(s.attributes or {}).get("http.status_code",
                                     (s.attributes or {}).get("http.response.status_code"))
            for s in spans]


def assert_key_sent(server: StandInServer, count: int) -> None:
    """The key still reaches AdGate, as is, in every history request."""
    keys = [r.query.get("api_key") for r in server.requests]
    assert keys == [API_KEY] * count


# ---------------------------------------------------------------- the instrumentor

async def test_a_history_call_is_traced_with_the_redacted_url(
    otel: Otel, adgate_server: StandInServer
) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        await s.get_history("user12345")
    spans = check_spans(otel, 1)
    assert statuses(spans) == [200]
    assert_key_sent(adgate_server, 1)


async def test_a_personalized_call_is_traced_without_any_key(
    otel: Otel, adgate_server: StandInServer
) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        await s.get_personalized("u1", numoffers=2)
    assert statuses(check_spans(otel, 1, endpoint="personalized")) == [200]


async def test_a_500_then_ok_gives_two_clean_spans(
    otel: Otel, adgate_server: StandInServer
) -> None:
    adgate_server.script("u", Answer.error(500, message=f"bad key {API_KEY}"))
    async with make_session(**adgate_server.session_urls()) as s:
        await s.get_history("u")
    assert statuses(check_spans(otel, 2)) == [500, 200]
    assert_key_sent(adgate_server, 2)


async def test_a_ban_gives_one_clean_span_and_a_redacted_error(
    otel: Otel, adgate_server: StandInServer
) -> None:
    adgate_server.always("u", Answer.ban())
    async with make_session(**adgate_server.session_urls()) as s:
        with pytest.raises(UserBannedError) as info:
            await s.get_history("u")
    assert statuses(check_spans(otel, 1)) == [403]
    assert "api_key=***" in info.value.url
    assert_error_clean(info.value)


def assert_error_spans(spans: list[ReadableSpan]) -> None:
    for span in spans:
        assert span.status.status_code.name == "ERROR"
        assert [e.name for e in span.events] == ["exception"]


async def test_a_refused_connection_gives_clean_error_spans(otel: Otel) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with make_session(adgate_base_url=url, revu_base_url=url, max_retries=1) as s:
        with pytest.raises(TransportError) as info:
            await s.get_history("u")
    assert_error_spans(check_spans(otel, 2))
    assert_error_clean(info.value)


async def test_a_timeout_gives_a_clean_error_span(
    otel: Otel, adgate_server: StandInServer
) -> None:
    adgate_server.always("u", Answer.hang())
    async with make_session(**adgate_server.session_urls(), timeout=0.5, max_retries=0) as s:
        with pytest.raises(APITimeoutError) as info:
            await s.get_history("u")
    assert_error_spans(check_spans(otel, 1))
    assert_error_clean(info.value)


async def test_a_batch_gives_one_clean_span_per_attempt(
    otel: Otel, adgate_server: StandInServer
) -> None:
    adgate_server.script("u3", Answer.error(503))
    adgate_server.always("u5", Answer.ban())
    users = [f"u{i}" for i in range(20)]
    async with make_session(**adgate_server.session_urls()) as s:
        results = await s.gather_users(users, concurrency=8)
    assert [r.ok for r in results].count(False) == 1
    spans = check_spans(otel, 21)
    assert sorted(map(str, statuses(spans))) == sorted(["200"] * 19 + ["503", "403"])
    assert_key_sent(adgate_server, 21)


async def test_a_callers_instrumented_session_and_its_middleware_never_see_the_key(
    otel: Otel, adgate_server: StandInServer
) -> None:
    seen: list[URL] = []

    async def theirs(req: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        seen.append(req.url)
        return await handler(req)

    async with (
        aiohttp.ClientSession(middlewares=(theirs,)) as client,
        make_session(**adgate_server.session_urls(), session=client) as s,
    ):
        await s.get_history("u1")
        await s.get_personalized("u1", numoffers=1)
    spans = otel.finished()
    assert "api_key=***" in span_url(spans[0])
    assert "/personalized?" in span_url(spans[1])
    for span in spans:
        assert not any(key_leaks(text) for text in span_texts(span))
    assert len(seen) == 2  # their middleware still runs, before ours
    assert "api_key=***" in str(seen[0])
    assert not any(key_leaks(str(u)) for u in seen)
    assert [r.query.get("api_key") for r in adgate_server.requests] == [API_KEY, None]


# ------------------------------------------------------------ trace_configs=

EVENTS = [
    "on_request_start", "on_request_end", "on_request_exception", "on_request_redirect",
    "on_request_chunk_sent", "on_request_headers_sent", "on_response_chunk_received",
    "on_connection_queued_start", "on_connection_queued_end", "on_connection_create_start",
    "on_connection_create_end", "on_connection_reuseconn", "on_dns_resolvehost_start",
    "on_dns_resolvehost_end", "on_dns_cache_hit", "on_dns_cache_miss",
]


def recording_trace_config() -> tuple[aiohttp.TraceConfig, list[tuple[str, Any]]]:
    """A TraceConfig that keeps every event it is told of, with its params."""
    log: list[tuple[str, Any]] = []
    config = aiohttp.TraceConfig()
    for name in EVENTS:
        async def record(_s: object, _ctx: object, params: object, name: str = name) -> None:
            log.append((name, params))
        getattr(config, name).append(record)
    return config, log


def views(params: object) -> list[str]:
    """Everything a trace hook can reach through its params, as texts."""
    texts = [repr(params)]
    for attr in ("url", "method", "headers"):
        texts.append(repr(getattr(params, attr, None)))
    response = getattr(params, "response", None)
    if response is not None:
        texts += [repr(response.url), repr(response.real_url), repr(response.request_info),
                  repr(response.history), repr(response.headers), repr(response)]
    exc = getattr(params, "exception", None)
    if exc is not None:
        texts += [str(exc), repr(exc), repr(exc.args), repr(getattr(exc, "request_info", None))]
        texts += [repr(vars(exc)) if hasattr(exc, "__dict__") else ""]
    return texts


def assert_trace_log_clean(log: list[tuple[str, Any]]) -> None:
    for name, params in log:
        for text in views(params):
            assert not key_leaks(text), f"{name}: {text[:300]}"


async def test_trace_configs_see_every_event_and_never_the_key(
    adgate_server: StandInServer
) -> None:
    config, log = recording_trace_config()
    adgate_server.script("u", Answer.error(500))
    adgate_server.always("banned", Answer.ban())
    async with make_session(**adgate_server.session_urls(), trace_configs=[config]) as s:
        await s.get_history("u")
        with pytest.raises(UserBannedError):
            await s.get_history("banned")
        await s.get_personalized("u", numoffers=1)
    assert_key_sent_to_history(adgate_server)
    names = [name for name, _ in log]
    assert names.count("on_request_start") == 4
    assert names.count("on_request_end") == 4
    assert names.count("on_request_headers_sent") == 4  # told again, with the redacted URL
    assert "on_response_chunk_received" in names
    assert "on_connection_create_start" in names
    assert_trace_log_clean(log)
    headers_sent = [p for n, p in log if n == "on_request_headers_sent"]
    assert "api_key=***" in str(headers_sent[0].url)
    ends = [p for n, p in log if n == "on_request_end"]
    assert "api_key=***" in str(ends[0].response.request_info.url)


def assert_key_sent_to_history(server: StandInServer) -> None:
    for r in server.requests:
        if r.endpoint == "history":
            assert r.query.get("api_key") == API_KEY
        else:
            assert "api_key" not in r.query


async def test_trace_configs_on_failures_see_no_key(adgate_server: StandInServer) -> None:
    config, log = recording_trace_config()
    adgate_server.always("hang", Answer.hang())
    url = f"http://127.0.0.1:{free_port()}"
    async with make_session(adgate_base_url=url, revu_base_url=url, max_retries=0,
                            trace_configs=(config,)) as s:
        with pytest.raises(TransportError):
            await s.get_history("u")
    async with make_session(**adgate_server.session_urls(), timeout=0.5, max_retries=0,
                            trace_configs=[config]) as s:
        with pytest.raises(APITimeoutError):
            await s.get_history("hang")
    names = [name for name, _ in log]
    assert names.count("on_request_exception") == 2
    assert_trace_log_clean(log)


async def _raw_http_server(reply: bytes) -> tuple[asyncio.Server, str]:
    """A socket server that sends ``reply`` verbatim to every request."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(reply)
            await writer.drain()
            await reader.read()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    return srv, f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"


async def test_an_aiohttp_error_after_the_key_was_added_is_clean_everywhere(
    otel: Otel,
) -> None:
    # aiohttp's parser fails on the answer (after the request line with the key was
    # written): its ClientResponseError carries the response's request_info. The trace
    # hooks, the exported span and our TransportError all stay clean.
    config, log = recording_trace_config()
    # (A server that echoes the key in bytes aiohttp quotes is beyond any client's reach.)
    srv, url = await _raw_http_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")
    try:
        async with make_session(adgate_base_url=url, revu_base_url=url, max_retries=0,
                                trace_configs=[config]) as s:
            with pytest.raises(TransportError) as info:
                await s.get_history("u")
    finally:
        srv.close()
        await srv.wait_closed()
    assert "invalid HTTP from the server" in info.value.message
    assert_error_clean(info.value)
    exceptions = [p.exception for n, p in log if n == "on_request_exception"]
    assert len(exceptions) == 1
    assert isinstance(exceptions[0], aiohttp.ClientResponseError)
    assert "api_key=***" in str(exceptions[0].request_info.url)
    assert_trace_log_clean(log)
    assert_error_spans(check_spans(otel, 1))


async def test_the_new_http_attributes_hold_no_key_either(adgate_server: StandInServer) -> None:
    # The instrumentation's newer semantic conventions (url.full, error.type), both at once.
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    config = create_trace_config(tracer_provider=provider,
                                 sem_conv_opt_in_mode=_StabilityMode.HTTP_DUP)
    adgate_server.script("u", Answer.error(502))
    async with make_session(**adgate_server.session_urls(), trace_configs=[config]) as s:
        await s.get_history("u")
    spans = exporter.get_finished_spans()
    assert len(spans) == 2
    for span in spans:
        attributes = span.attributes or {}
        assert "api_key=***" in str(attributes["url.full"])
        assert "api_key=***" in str(attributes["http.url"])
        assert not any(key_leaks(text) for text in span_texts(span))
    provider.shutdown()


async def test_a_future_aiohttp_that_keeps_the_keyed_url_fails_closed(
    monkeypatch: pytest.MonkeyPatch, adgate_server: StandInServer
) -> None:
    # Should aiohttp build its response from another URL object than the request's
    # original one, the middleware refuses to hand it on rather than risk the key.
    send = ClientRequest.send

    async def other_send(self: ClientRequest, conn: Any) -> ClientResponse:
        resp = await send(self, conn)
        resp._real_url = URL(str(resp._real_url))
        return resp

    monkeypatch.setattr(ClientRequest, "send", other_send)
    async with make_session(**adgate_server.session_urls(), max_retries=0) as s:
        with pytest.raises(RuntimeError, match="cannot keep the API key out") as info:
            await s.get_history("u")
        await s.get_personalized("u", numoffers=1)  # no key: not concerned
    assert not key_leaks(str(info.value))


def test_trace_configs_are_checked() -> None:
    refused("trace_configs", make_session, trace_configs=aiohttp.TraceConfig())
    refused("trace_configs", make_session, trace_configs=[aiohttp.TraceConfig(), "x"])
    refused("trace_configs", make_session, trace_configs="abc")
    make_session(trace_configs=[]), make_session(trace_configs=None)


async def test_trace_configs_are_refused_with_a_callers_session() -> None:
    async with aiohttp.ClientSession() as client:
        exc = refused("trace_configs", make_session, session=client,
                      trace_configs=[aiohttp.TraceConfig()])
    assert "session=" in str(exc)
    assert isinstance(exc, InvalidParameterError)


async def test_the_key_middleware_leaves_no_reference_cycle(adgate_server: StandInServer) -> None:
    # A history request, middleware and all, is freed by reference counting, as a RevU
    # request is: nothing is left for the cyclic garbage collector (whose passes cost time
    # on the hot path).
    async with make_session(**adgate_server.session_urls()) as s:
        for _ in range(5):  # warm up (pooled connections, caches)
            await s.get_history("u")
        gc.collect()
        gc.disable()
        try:
            for _ in range(50):
                await s.get_history("u")
            left = gc.collect()
        finally:
            gc.enable()
    assert left == 0
