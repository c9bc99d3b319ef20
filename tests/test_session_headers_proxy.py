"""``headers=``, ``trust_env=`` and ``proxy=`` (issue 12, items 6 and 7): the headers each
vendor receives, requests through a small local forward proxy, and no secret (the key, the
proxy's credentials) in any error a proxy causes."""

from __future__ import annotations

import asyncio
import base64
import traceback
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from adgate_async import AdGateError, APIStatusError, AsyncSession, TransportError
from adgate_async.testing import StandInServer

from ._support import (
    API_KEY,
    HANG,
    assert_clean,
    assert_error_clean,
    assert_session_clean,
    free_port,
    make_session,
    refused,
)

PROXY_PASSWORD = "pr0xy-SECRET-pw"
PROXY_FORMS = (PROXY_PASSWORD, base64.b64encode(f"me:{PROXY_PASSWORD}".encode()).decode())
PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                   "all_proxy", "NO_PROXY", "no_proxy")


# ----------------------------------------------------------------------------- headers


async def test_headers_go_to_both_vendors_and_a_user_agent_there_replaces_ours(
    adgate_server: StandInServer,
) -> None:
    headers = {"X-Team": "ads", "user-agent": "my-app/1.0", "Accept": "application/json, */*"}
    async with make_session(headers=headers, **adgate_server.session_urls()) as s:
        await s.get_history("u1")
        await s.get_personalized("u1", numoffers=1)
        await s.with_options(max_retries=0).get_history("u2")
    assert len(adgate_server.requests) == 3
    for request in adgate_server.requests:
        received = {k.lower(): v for k, v in request.headers.items()}
        assert received["x-team"] == "ads"
        assert received["user-agent"] == "my-app/1.0"
        assert received["accept"] == "application/json, */*"
        assert [k for k in request.headers if k.lower() == "user-agent"] == [
            next(k for k in request.headers if k.lower() == "user-agent")]


async def test_without_headers_ours_are_sent(adgate_server: StandInServer) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        await s.get_personalized("u1", numoffers=1)
    (request,) = adgate_server.requests
    assert request.headers["User-Agent"].startswith("adgate-async/")
    assert request.headers["Accept"] == "application/json"


async def test_headers_with_a_caller_session(adgate_server: StandInServer) -> None:
    async with (
        aiohttp.ClientSession(headers={"User-Agent": "caller/2", "X-Team": "caller"}) as http,
        make_session(session=http, headers={"X-Team": "mine", "X-Extra": "1"},
                     **adgate_server.session_urls()) as s,
    ):
        await s.get_history("u1")
        await s.get_personalized("u1", numoffers=1)
    for request in adgate_server.requests:
        assert request.headers["X-Team"] == "mine"  # given here: sent over the caller's
        assert request.headers["X-Extra"] == "1"
        assert request.headers["User-Agent"] == "caller/2"  # ours only fill in
        assert request.headers["Accept"] == "application/json"


_BAD_HEADERS: dict[str, Any] = {
    "a list": [("X-A", "1")],
    "a str": "X-A: 1",
    "an int name": {1: "x"},
    "an empty name": {"": "x"},
    "a space in a name": {"X A": "x"},
    "a colon in a name": {"X-A:": "x"},
    "CRLF in a name": {"X-A\r\nX-B": "x"},
    "an int value": {"X-A": 1},
    "None as value": {"X-A": None},
    "CRLF in a value": {"X-A": "x\r\nX-Injected: 1"},
    "LF in a value": {"X-A": "x\ny"},
    "NUL in a value": {"X-A": "x\0y"},
}


@pytest.mark.parametrize("name", list(_BAD_HEADERS))
def test_bad_headers_are_refused(name: str) -> None:
    exc = refused("headers", make_session, headers=_BAD_HEADERS[name])
    assert "must" in str(exc)


@pytest.mark.parametrize("header", ["Authorization", "X-Api-Key", "X-Auth-Token", "Cookie",
                                    "Proxy-Authorization", "X-Client-Secret"])
def test_a_bad_secret_header_value_is_never_shown(header: str) -> None:
    swapped = refused("headers", make_session, headers={API_KEY: "X-Api-Key"})
    assert_clean(str(swapped))
    value = f"Bearer {API_KEY}\r\nX-Injected: 1"
    exc = refused("headers", make_session, headers={header: value})
    assert header in str(exc)
    for text in (str(exc), repr(exc), "".join(traceback.format_exception(exc))):
        assert "Bearer" not in text
        assert_clean(text)


# ------------------------------------------------------------------- a forward proxy


class ForwardProxy:
    """A plain-HTTP forward proxy on 127.0.0.1: reads an absolute-form request
    (``GET http://host:port/path HTTP/1.1``), records it, and then, by ``mode``:
    ``"forward"`` sends it on (``Connection: close``) and relays the answer whole;
    ``"407"`` answers 407 with a body echoing the request line (the key with it);
    ``"reset"`` drops the connection."""

    def __init__(self, mode: str = "forward") -> None:
        self.mode = mode
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> ForwardProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            line, *lines = head.decode("latin-1").split("\r\n")
            headers = dict(h.split(": ", 1) for h in lines if h)
            self.requests.append((line, headers))
            if self.mode == "reset":
                writer.transport.abort()
                return
            if self.mode == "407":
                body = f"proxy refused: {line}".encode("latin-1")
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                             b'Proxy-Authenticate: Basic realm="test"\r\n'
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
                             + body)
                await writer.drain()
                return
            method, target, version = line.split(" ")
            url = target.removeprefix("http://")
            hostport, _, path = url.partition("/")
            host, _, port = hostport.partition(":")
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            forwarded = {k: v for k, v in headers.items()
                         if k.lower() not in ("proxy-authorization", "connection")}
            forwarded["Connection"] = "close"
            up_writer.write(f"{method} /{path} {version}\r\n".encode("latin-1")
                            + "".join(f"{k}: {v}\r\n" for k, v in forwarded.items())
                            .encode("latin-1") + b"\r\n")
            await up_writer.drain()
            writer.write(await up_reader.read())  # to EOF: the answer whole
            await writer.drain()
            up_writer.close()
            await up_writer.wait_closed()
        finally:
            writer.close()


def clear_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def with_credentials(url: str) -> str:
    return url.replace("http://", f"http://me:{PROXY_PASSWORD}@")


def assert_no_proxy_secret(value: object) -> None:
    texts = [str(value), repr(value)]
    if isinstance(value, BaseException):
        texts.append("".join(traceback.format_exception(value)))
        texts.append(repr(vars(value)))
    for text in texts:
        for form in PROXY_FORMS:
            assert form not in text, text


# ----------------------------------------------------------------------------- proxies


async def test_proxy_sends_every_request_through_it(adgate_server: StandInServer) -> None:
    async with (
        ForwardProxy() as proxy,
        make_session(proxy=with_credentials(proxy.url), **adgate_server.session_urls()) as s,
    ):
        await s.get_history("u1")
        await s.get_personalized("u2", numoffers=1)
        assert_session_clean(s)
        assert_no_proxy_secret(s)
    lines = [line for line, _ in proxy.requests]
    assert lines[0].startswith(f"GET {adgate_server.url}/v1/user-based-api/history?")
    assert lines[1].startswith(f"GET {adgate_server.url}/api/v1/users/u2/personalized?")
    assert all(h["Proxy-Authorization"] == f"Basic {PROXY_FORMS[1]}" for _, h in proxy.requests)
    assert adgate_server.count() == 2
    assert "Proxy-Authorization" not in adgate_server.requests[0].headers


async def test_trust_env_honours_http_proxy(
    adgate_server: StandInServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    clear_proxy_env(monkeypatch)
    async with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        async with make_session(**adgate_server.session_urls()) as s:  # not asked: direct
            await s.get_history("direct")
        assert proxy.requests == []
        async with make_session(trust_env=True, **adgate_server.session_urls()) as s:
            await s.get_history("u1")
            await s.get_personalized("u1", numoffers=1)
    assert len(proxy.requests) == 2
    assert adgate_server.count() == 3


async def test_no_proxy_is_honoured_with_trust_env(
    adgate_server: StandInServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    clear_proxy_env(monkeypatch)
    async with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with make_session(trust_env=True, **adgate_server.session_urls()) as s:
            await s.get_history("u1")
    assert proxy.requests == []
    assert adgate_server.count() == 1


def _check_clean(exc: AdGateError) -> None:
    assert_error_clean(exc)
    assert_no_proxy_secret(exc)


async def test_a_proxy_refusing_the_connection_leaks_nothing(
    adgate_server: StandInServer,
) -> None:
    dead = with_credentials(f"http://127.0.0.1:{free_port()}")
    async with make_session(proxy=dead, max_retries=1, **adgate_server.session_urls()) as s:
        for call in (s.get_history("u1"), s.get_personalized("u1", numoffers=1)):
            with pytest.raises(TransportError) as info:
                await asyncio.wait_for(call, HANG)
            assert info.value.attempts == 2
            _check_clean(info.value)
    assert adgate_server.count() == 0


@pytest.mark.parametrize("mode", ["407", "reset"])
async def test_a_proxy_answering_407_or_resetting_leaks_nothing(
    adgate_server: StandInServer, mode: str,
) -> None:
    async with (
        ForwardProxy(mode) as proxy,
        make_session(proxy=with_credentials(proxy.url), max_retries=0,
                     **adgate_server.session_urls()) as s,
    ):
        with pytest.raises(AdGateError) as info:
            await asyncio.wait_for(s.get_history("u1"), HANG)
        results = await asyncio.wait_for(s.gather_users(["u2", "u3"]), HANG)
    # The key did go to the proxy, in the URL (which the 407 body echoes).
    assert quote(API_KEY, safe="") in proxy.requests[0][0]
    error = info.value
    if mode == "407":
        assert isinstance(error, APIStatusError)
        assert error.status == 407
    else:
        assert isinstance(error, TransportError)
    _check_clean(error)
    for result in results:
        assert result.error is not None
        _check_clean(result.error)
        assert_clean(repr(result))
    assert adgate_server.count() == 0


@pytest.mark.parametrize(
    "proxy", ["ftp://me:pw@127.0.0.1:1", "127.0.0.1:3128", "http://", "http:///path",
              f"http://me:{PROXY_PASSWORD}@127.0.0.1:1/?q=1", f"http://me:{PROXY_PASSWORD}@h "
              "x:1", 3128, b"http://127.0.0.1:1", "http://prøxy.example:1"])
def test_a_bad_proxy_is_refused_and_never_shown(proxy: object) -> None:
    exc = refused("proxy", make_session, proxy=proxy)
    assert "http://" in str(exc)  # the rule
    assert_no_proxy_secret(exc)
    assert "me:" not in str(exc)


def test_trust_env_must_be_a_bool() -> None:
    refused("trust_env", make_session, trust_env="yes")


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [({"proxy": with_credentials("http://127.0.0.1:3128")}, "proxy"),
     ({"trust_env": True}, "trust_env")],
)
async def test_proxy_settings_are_refused_with_a_caller_session(
    kwargs: dict[str, Any], param: str,
) -> None:
    async with aiohttp.ClientSession() as http:
        exc = refused(param, make_session, session=http, **kwargs)
    assert "session=" in str(exc)
    assert "aiohttp.ClientSession" in str(exc)
    assert_no_proxy_secret(exc)


def test_the_repr_never_shows_the_proxy() -> None:
    s = make_session(proxy=with_credentials("http://127.0.0.1:3128"))
    assert_no_proxy_secret(s)
    assert "3128" not in repr(s)
    assert isinstance(s, AsyncSession)
