"""Taking the API key out of text, bytes and headers, in every spelling a server may echo.

A server or a proxy in front of it may hand the key back changed: lowercased or uppercased
(URL rewrites), percent-encoded (once or twice) with upper- or lowercase hex, ``+`` for a
space, or escaped inside a JSON string (``\\/``, ``\\u00e9``, ``\\u00E9``), and any mix of
these from one character to the next. :class:`Redactor` compiles, once per session, one
regular expression per kind of input (str and bytes) that matches the key in all those
spellings. It only runs when an error is built or raw headers are handed out, never on a
successful decode.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable

from multidict import CIMultiDict, CIMultiDictProxy

from ._config import MAX_ERROR_BODY_BYTES, MAX_ERROR_MESSAGE_CHARS, REDACTED
from ._errors import clip_text

__all__ = ["Redactor", "scrub_body", "scrub_text"]

# The two-character escapes JSON has for some characters (besides \uXXXX for any of them).
_JSON_SHORT = {'"': '"', "\\": "\\", "/": "/", "\b": "b", "\f": "f", "\n": "n", "\r": "r",
               "\t": "t"}
# A JSON escape inside a JSON string inside a JSON string... gets 1, 3, 7 backslashes.
_BACKSLASHES = 7
_ESCAPE = r"\\{1,7}"  # _BACKSLASHES of them at most


def _case_variants(char: str) -> set[str]:
    """The character and what case mapping can turn it into (possibly several characters)."""
    return {v for v in (char, char.lower(), char.upper(), char.casefold(), char.swapcase()) if v}


def _literals(char: str) -> set[str]:
    """ASCII spellings of one code point besides its JSON escapes: %XX per UTF-8 byte,
    %25XX per byte (a URL percent-encoded twice, as a re-encoding rewrite echoes it), and
    ``+`` for a space."""
    raw = char.encode("utf-8", "surrogatepass")
    forms = {"".join(f"%{b:02X}" for b in raw), "".join(f"%25{b:02X}" for b in raw)}
    if char == " ":
        forms.add("+")
    return forms


def _json_escapes(char: str) -> list[str]:
    """Regex fragments for the JSON escapes of one code point (after the backslashes)."""
    point = ord(char)
    if point > 0xFFFF:  # JSON spells it as a UTF-16 surrogate pair
        point -= 0x10000
        escapes = [f"u{0xD800 + (point >> 10):04X}{_ESCAPE}u{0xDC00 + (point & 0x3FF):04X}"]
    else:
        escapes = [f"u{point:04X}"]
    if char in _JSON_SHORT:
        escapes.append(re.escape(_JSON_SHORT[char]))
    return escapes


def _text_literals(char: str) -> set[str]:
    forms = {char} | _literals(char)
    raw = char.encode("utf-8", "surrogatepass")
    if len(raw) > 1:  # UTF-8 bytes read as Latin-1 (a common mis-decoding)
        forms.add(raw.decode("latin-1"))
    # A Latin-1 byte read by a UTF-8 decoder with surrogateescape (header values).
    with contextlib.suppress(UnicodeEncodeError):
        forms.add(char.encode("latin-1").decode("utf-8", "surrogateescape"))
    return forms


def _byte_literals(char: str) -> set[bytes]:
    forms = {f.encode("ascii") for f in _literals(char)}
    forms.add(char.encode("utf-8", "surrogatepass"))
    with contextlib.suppress(UnicodeEncodeError):
        forms.add(char.encode("latin-1"))
    return forms


def _char_pattern(char: str) -> str:
    literals = sorted(_text_literals(char), key=len, reverse=True)  # longest first
    return ("(?:" + "|".join(re.escape(f) for f in literals)
            + f"|{_ESCAPE}(?:" + "|".join(_json_escapes(char)) + "))")


def _char_byte_pattern(char: str) -> bytes:
    literals = sorted(_byte_literals(char), key=len, reverse=True)
    escapes = "|".join(_json_escapes(char)).encode("ascii")
    return (b"(?:" + b"|".join(re.escape(f) for f in literals)
            + b"|" + _ESCAPE.encode() + b"(?:" + escapes + b"))")


def _widest(char: str) -> int:
    """An upper bound on the length of one spelling of ``char``, in characters or bytes."""
    escape = 2 * (_BACKSLASHES + 5)  # a surrogate pair, each half behind 7 backslashes
    literal = max(len(f) for f in _byte_literals(char))
    return max(escape, literal)


class Redactor:
    """Replaces every spelling of one secret with ``***`` in text, bytes and headers.

    ``longest`` is an upper bound on the length of one spelling (in characters or bytes):
    redacting the first ``n + longest`` units of a long input is enough to make its first
    ``n`` clean.
    """

    __slots__ = ("_bytes", "_text", "longest")

    def __init__(self, secret: str | None) -> None:
        if secret is None:  # a session without a key: nothing to take out
            self._text = re.compile("(?!)")
            self._bytes = re.compile(b"(?!)")
            self.longest = 0
            return
        if not secret:
            raise ValueError("the secret must not be empty")
        text_parts: list[str] = []
        byte_parts: list[bytes] = []
        longest = 0
        for char in secret:
            variants = _case_variants(char)
            text_parts.append("(?:" + "|".join(
                "".join(_char_pattern(c) for c in v) for v in variants) + ")")
            byte_parts.append(b"(?:" + b"|".join(
                b"".join(_char_byte_pattern(c) for c in v) for v in variants) + b")")
            longest += max(sum(_widest(c) for c in v) for v in variants)
        # IGNORECASE also covers the hex digits of %xx and \uxxxx in either case.
        self._text = re.compile("".join(text_parts), re.IGNORECASE)
        self._bytes = re.compile(b"".join(byte_parts), re.IGNORECASE)
        self.longest = longest

    def text(self, text: str) -> str:
        return self._text.sub(REDACTED, text)

    def excerpt(self, text: str, start: int, length: int) -> str:
        """At most ``length`` characters of ``text`` from ``start``, without the key; a
        spelling that straddles ``start`` is replaced whole rather than shown in part."""
        low = max(0, start - self.longest)
        window = text[low : start + length + self.longest]
        offset = start - low
        for match in self._text.finditer(window):
            if match.start() >= offset:
                break
            if match.end() > offset:
                offset = match.start()
                break
        return self.text(window[offset:])[:length]

    def data_excerpt(self, data: bytes, start: int, length: int) -> bytes:
        """:meth:`excerpt` for bytes: redacted before it is cut, so a spelling of the key
        that the cut would split is never shown in part."""
        low = max(0, start - self.longest)
        window = data[low : start + length + self.longest]
        offset = start - low
        for match in self._bytes.finditer(window):
            if match.start() >= offset:
                break
            if match.end() > offset:
                offset = match.start()
                break
        return self.data(window[offset:])[:length]

    def data(self, data: bytes) -> bytes:
        return self._bytes.sub(REDACTED.encode(), data)

    def headers(self, headers: Iterable[tuple[str, str]]) -> CIMultiDictProxy[str]:
        return CIMultiDictProxy(CIMultiDict((self.text(k), self.text(v)) for k, v in headers))


def scrub_text(redactor: Redactor, text: str, limit: int = MAX_ERROR_MESSAGE_CHARS) -> str:
    """``text`` without the key, cut to ``limit`` characters (only the part kept is
    scanned, plus enough to catch a spelling that starts inside it)."""
    window = text[: limit + redactor.longest]
    clean = redactor.text(window)
    if len(window) == len(text):
        return clip_text(clean, limit)
    return clip_text(clean, limit, total=len(text))


def scrub_body(redactor: Redactor, body: bytes, limit: int = MAX_ERROR_BODY_BYTES) -> bytes:
    """The first ``limit`` bytes of ``body``, without the key."""
    if len(body) <= limit:
        return redactor.data(body)
    return redactor.data(body[: limit + redactor.longest])[:limit]
