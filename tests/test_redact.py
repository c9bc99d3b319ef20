"""The API key is taken out in every spelling a server may echo it in (issue 9, item 6):
any letter case, percent-encoded with either hex case, ``+`` for a space, JSON escapes
(``\\/``, ``\\u00e9``, ``\\u00E9``), and mixes of these, in text, bytes and headers.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import re
import traceback
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote, quote_plus, unquote

import msgspec
import pytest

from adgate_async import (
    AdGateError,
    APIStatusError,
    AsyncSession,
    ServerError,
)
from adgate_async._config import MAX_ERROR_BODY_BYTES, MAX_ERROR_MESSAGE_CHARS
from adgate_async._redact import Redactor
from adgate_async.cli import error_record
from adgate_async.testing import Answer, StandInServer

from ._support import (
    API_KEY,
    assert_bounded,
    assert_clean,
    huge_error_body,
    key_leaks,
    make_session,
)

#: A key with a slash, a space, a quote, a plus, a percent sign, an accented letter and an
#: "ß" (whose uppercase is "SS").
KEY = 'Tok3n/Ké y"+%ßZ'


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text)


def _json(text: str) -> str:
    return json.dumps(text)[1:-1]


def _json_every_char(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else json.dumps(c)[1:-1]
                   for c in text)


SPELLINGS: dict[str, str] = {
    "as is": KEY,
    "lowercase": KEY.lower(),
    "uppercase": KEY.upper(),
    "casefold": KEY.casefold(),
    "swapcase": KEY.swapcase(),
    "percent, upper hex": quote(KEY, safe=""),
    "percent, lower hex": _lower_hex(quote(KEY, safe="")),
    "percent, all lowercased": quote(KEY, safe="").lower(),
    "percent, uppercased": quote(KEY.upper(), safe=""),
    "plus for space": quote_plus(KEY),
    "plus, lower hex": _lower_hex(quote_plus(KEY)),
    "json ascii": _json(KEY),
    "json escaped slash": _json(KEY).replace("/", "\\/"),
    "json upper hex": re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(),
                             _json(KEY)),
    "json every char": _json_every_char(KEY),
    "json every char, lowercased key": _json_every_char(KEY.lower()),
    "mixed percent then json": quote(KEY[:7], safe="") + _json(KEY[7:]),
    "mixed per char": "".join(
        quote(c, safe="") if i % 3 == 0 else _json_every_char(c) if i % 3 == 1 else c.upper()
        for i, c in enumerate(KEY)
    ),
}


def leaks(value: str | bytes) -> bool:
    """Whether ``value`` still holds the key in any spelling (case-insensitively)."""
    return key_leaks(value, KEY)


def test_the_leak_detector_sees_every_spelling() -> None:
    for name, spelling in SPELLINGS.items():
        assert leaks(f"x {spelling} y"), name
        assert leaks(f"x {spelling} y".encode()), name


@pytest.mark.parametrize("name", list(SPELLINGS))
def test_redactor_text_removes_spelling(name: str) -> None:
    redactor = Redactor(KEY)
    clean = redactor.text(f"before {SPELLINGS[name]} after")
    assert clean == "before *** after"


@pytest.mark.parametrize("name", list(SPELLINGS))
@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_redactor_bytes_removes_spelling(name: str, encoding: str) -> None:
    spelling = SPELLINGS[name]
    try:
        raw = spelling.encode(encoding)
    except UnicodeEncodeError:
        pytest.skip(f"{name!r} has characters {encoding} cannot encode")  # e.g. none today
    clean = Redactor(KEY).data(b"before " + raw + b" after")
    assert clean == b"before *** after"


@pytest.mark.parametrize("name", list(SPELLINGS))
def test_redactor_bytes_removes_spelling_inside_a_json_string(name: str) -> None:
    body = msgspec.json.encode({"message": f"bad key {SPELLINGS[name]}"})
    clean = Redactor(KEY).data(body)
    assert not leaks(clean), clean


def test_redactor_headers_removes_spellings_in_names_and_values() -> None:
    redactor = Redactor(KEY)
    ascii_spellings = [s for s in SPELLINGS.values() if s.isascii()]
    headers = redactor.headers([(f"X-{i}", s) for i, s in enumerate(ascii_spellings)]
                               + [("X-Key-" + quote(KEY, safe=""), "v")])
    for name, value in headers.items():
        assert not leaks(name), name
        assert not leaks(value), value


@pytest.mark.parametrize("key", ["a.b*c?(d)[e]{f}|g^h$i\\j", "naïve-ключ-🔑", "x", "SS"])
def test_redactor_handles_any_key(key: str) -> None:
    redactor = Redactor(key)
    for spelling in (key, key.upper(), key.lower(), quote(key, safe="").lower(), _json(key),
                     json.dumps(key, ensure_ascii=False)[1:-1], _json_every_char(key)):
        assert key not in redactor.text(f"<{spelling}>")
        assert redactor.text(f"<{spelling}>") == "<***>", spelling
        assert redactor.data(f"<{spelling}>".encode()) == b"<***>", spelling


def test_redactor_leaves_other_text_alone() -> None:
    redactor = Redactor(KEY)
    text = "nothing secret here: Tok3n Ké y /%+ 41"
    assert redactor.text(text) == text
    assert redactor.data(text.encode()) == text.encode()


def test_redactor_longest_bounds_every_spelling() -> None:
    redactor = Redactor(KEY)
    for spelling in SPELLINGS.values():
        assert len(spelling) <= redactor.longest
        assert len(spelling.encode()) <= redactor.longest


@pytest.fixture
async def keyed(adgate_server: StandInServer) -> AsyncIterator[AsyncSession]:
    async with make_session(**adgate_server.session_urls(), api_key=KEY, max_retries=0) as s:
        yield s


def _outputs(exc: AdGateError) -> list[str | bytes]:
    """Everything of an error that can leave the library."""
    out: list[str | bytes] = [str(exc), repr(exc), exc.message, repr(exc.args),
                              "".join(traceback.format_exception(exc)), repr(vars(exc)),
                              msgspec.json.encode(error_record(exc)).decode()]
    if isinstance(exc, APIStatusError):
        out += [exc.body, repr(exc.body), repr(exc.code)]
        out += [f"{k}: {v}" for k, v in exc.headers.items()]
    again = pickle.loads(pickle.dumps(exc))
    out += [str(again), repr(vars(again))]
    return out


def _answers(spelling: str, status: int) -> dict[str, Answer]:
    doc = {"status": "error", "support_id": 7,
           "error": {"code": "BAD_KEY", "message": f"invalid api_key {spelling}"},
           "echo": spelling}
    headers = {"X-Echo": spelling} if spelling.isascii() else {}
    plain = f"denied for key {spelling}".encode()
    answers = {
        "json body": Answer(status=status, body=msgspec.json.encode(doc), headers=headers),
        "plain body": Answer(status=status, body=plain, headers=headers),
    }
    with contextlib.suppress(UnicodeEncodeError):
        answers["latin-1 body"] = Answer(status=status, body=plain.decode().encode("latin-1"))
    return answers


@pytest.mark.parametrize("status", [403, 500])
@pytest.mark.parametrize("name", list(SPELLINGS))
async def test_echoed_spelling_never_leaves_the_library(
    adgate_server: StandInServer, keyed: AsyncSession, name: str, status: int
) -> None:
    for kind, answer in _answers(SPELLINGS[name], status).items():
        adgate_server.script("u1", answer)
        with pytest.raises(APIStatusError) as info:
            await keyed.get_history("u1")
        for out in _outputs(info.value):
            assert not leaks(out), f"{kind}: key leaked in {out!r}"
        if kind == "json body":  # the echo was found and replaced, not just lost
            assert "***" in info.value.message
            assert b"***" in info.value.body


async def test_echoed_spelling_is_scrubbed_in_bulk_results(
    adgate_server: StandInServer, keyed: AsyncSession
) -> None:
    names = list(SPELLINGS)
    for i, name in enumerate(names):
        adgate_server.script(f"u{i}", *_answers(SPELLINGS[name], 403).values())
    ids = [f"u{i}" for i in range(len(names))]
    results = await keyed.gather_users(ids, concurrency=4)
    for result in results:
        assert isinstance(result.error, APIStatusError)
        for out in _outputs(result.error):
            assert not leaks(out), f"{result.user_id}: key leaked in {out!r}"


async def test_redactor_does_not_run_on_a_successful_call(
    adgate_server: StandInServer, keyed: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def spy(name: str) -> Callable[..., Any]:
        original = getattr(Redactor, name)

        def wrapper(self: Redactor, value: Any) -> Any:
            calls.append(name)
            return original(self, value)

        return wrapper

    for name in ("text", "data", "headers"):
        monkeypatch.setattr(Redactor, name, spy(name))
    history = await keyed.get_history("u1")
    assert history.data
    assert calls == []


@pytest.mark.parametrize("start", range(0, 30))
def test_redactor_excerpt_never_shows_part_of_a_spelling(start: int) -> None:
    redactor = Redactor(KEY)
    for spelling in SPELLINGS.values():
        text = "0123456789" + spelling + "abcdefghij" * 3
        excerpt = redactor.excerpt(text, start, 12)
        assert len(excerpt) <= 12
        for size in range(4, len(spelling) + 1):  # no piece of the spelling shows
            for at in range(len(spelling) - size + 1):
                assert spelling[at : at + size] not in excerpt, (spelling, excerpt)


async def test_error_url_is_redacted_but_useful(adgate_server: StandInServer) -> None:
    adgate_server.always("u", Answer.error(404))
    async with make_session(**adgate_server.session_urls()) as s:
        with pytest.raises(AdGateError) as info:
            await s.get_history("u")
    url = info.value.url  # type: ignore[attr-defined]
    assert "api_key=***" in url
    assert "user_id=u" in url
    assert url.startswith(adgate_server.url)


async def test_echoed_key_is_scrubbed_from_message_and_body(adgate_server: StandInServer) -> None:
    adgate_server.always("u", Answer.error(400, message=f"invalid api_key {API_KEY}"))
    async with make_session(**adgate_server.session_urls()) as s:
        with pytest.raises(AdGateError) as info:
            await s.get_history("u")
    err = info.value
    assert err.message == "invalid api_key ***"
    assert_clean(err.body.decode())  # type: ignore[attr-defined]


async def test_raw_response_headers_are_scrubbed(adgate_server: StandInServer) -> None:
    adgate_server.always("u", Answer(status=200, body=b'{"data": []}',
                              headers={"X-Echo": f"api_key={API_KEY}"}))
    async with make_session(**adgate_server.session_urls()) as s:
        raw = await s.with_raw_response.get_history("u")
    assert raw.headers["X-Echo"] == "api_key=***"
    assert_clean(repr(dict(raw.headers)))


def _assert_request_clean_outside_api_key(request: Any) -> None:
    assert_clean(request.path)
    for name, value in request.headers.items():
        assert_clean(name)
        assert_clean(value)
    for name, value in request.query.items():
        assert_clean(name)
        if name != "api_key":
            assert_clean(value)


def _text_of(request: Any) -> str:
    return " ".join([request.path, repr(dict(request.query)), repr(dict(request.headers))])


async def test_the_key_reaches_adgate_only_and_only_as_api_key() -> None:
    async with (
        StandInServer() as adgate,
        StandInServer() as revu,
        make_session(adgate_base_url=adgate.url, revu_base_url=revu.url) as s,
    ):
        await s.get_history("u1")
        await s.get_history("u2", lang="en-US,en;q=0.5", continue_playing=True,
                            offer_ids=[1477425, 148199])
        await s.with_raw_response.get_history("u3")
        await s.gather_users(["u4", "u5"])
        await s.get_personalized("p1", numoffers=2)
        await s.get_personalized("p2", numoffers=5, sid3="s", device="ios",
                                 ip="203.0.113.7", os_version=17.1, include_sortmetric=True,
                                 bid_floor=0.5, experiment_id="exp")
        await s.with_raw_response.get_personalized("p3", numoffers=1)
    assert [r.endpoint for r in adgate.requests] == ["history"] * 5
    assert [r.endpoint for r in revu.requests] == ["personalized"] * 3
    for request in revu.requests:
        assert "api_key" not in request.query
        assert_clean(_text_of(request))
        assert_clean(repr(request))
    for request in adgate.requests:
        assert request.query["api_key"] == API_KEY  # sent, and decoded back exactly
        _assert_request_clean_outside_api_key(request)


@pytest.mark.parametrize("offset", range(-30, 5, 3))
async def test_key_at_the_cut_is_not_half_kept(adgate_server: StandInServer, offset: int) -> None:
    at = MAX_ERROR_MESSAGE_CHARS + offset - 40
    long_message = huge_error_body(MAX_ERROR_BODY_BYTES * 2, secret_at=at)
    long_body = b"a" * (MAX_ERROR_BODY_BYTES + offset - 8) + API_KEY.encode() + b"a" * 100
    adgate_server.script(
        "u1", Answer(status=500, body=long_message), Answer(status=500, body=long_body)
    )
    async with make_session(**adgate_server.session_urls(), max_retries=0) as s:
        for _ in range(2):
            with pytest.raises(ServerError) as info:
                await s.get_history("u1")
            assert_bounded(info.value)
            assert API_KEY[:5] not in info.value.message
            assert API_KEY[:5].encode() not in info.value.body


# ------------------------------------------- review findings 3 and 4: cut or re-encoded keys


def _shows_part_of_key(text: str, chunk: int = 8) -> bool:
    """Whether ``text`` holds any ``chunk`` consecutive characters of the key (in any case,
    also after undoing one or two levels of percent-encoding)."""
    key = API_KEY.casefold()
    views = [v.casefold() for v in (text, unquote(text), unquote(unquote(text)))]
    return any(key[i:i + chunk] in v for i in range(len(key) - chunk + 1) for v in views)


def _error_texts(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), getattr(exc, "message", "") or ""]
    body = getattr(exc, "body", b"") or b""
    texts.append(body.decode("latin-1"))
    headers = getattr(exc, "headers", None)
    if headers:
        texts.append(repr(list(headers.items())))
    return texts


@pytest.mark.parametrize("pad", [0, 7, 14, 21, 28, 35])
async def test_stray_bytes_after_a_good_document_never_show_part_of_the_key(
    adgate_server: StandInServer, pad: int
) -> None:
    """Review finding 3: the DecodeError for a complete JSON document followed by other
    bytes quotes a window of what follows; a key cut by that window's end was only partly
    there and the redactor let that part through."""
    body = b'{"status":"success","data":[]}' + b" " + b"x" * pad + API_KEY.encode()
    adgate_server.always("echo", Answer.ok(body=body))
    async with make_session(**adgate_server.session_urls()) as s:
        with pytest.raises(AdGateError) as caught:
            await s.get_history("echo")
    leaked = [t for t in _error_texts(caught.value) if _shows_part_of_key(t)]
    assert not leaked, leaked


@pytest.mark.parametrize("where", ["message", "location"])
async def test_a_double_percent_encoded_key_is_scrubbed(
    adgate_server: StandInServer, where: str
) -> None:
    """Review finding 4: a key percent-encoded twice (``%252F`` for ``/``, what a
    re-encoding rewrite echoes) reached ``str(exc)``, ``.message``, ``.body`` and
    ``.headers``."""
    twice = quote(quote(API_KEY, safe=""), safe="")
    if where == "message":
        body = msgspec.json.encode({"error": {"message": f"bad request: api_key={twice}"}})
        adgate_server.always("echo", Answer.error(400, body=body))
    else:
        adgate_server.always("echo", Answer(status=302, body=b"",
                                     headers={"Location": f"https://x.test/?api_key={twice}"}))
    async with make_session(**adgate_server.session_urls(), max_retries=0) as s:
        with pytest.raises(AdGateError) as caught:
            await s.get_history("echo")
    leaked = [t for t in _error_texts(caught.value) if _shows_part_of_key(t)]
    assert not leaked, leaked
