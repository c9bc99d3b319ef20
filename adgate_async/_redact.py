"""Taking the API key out of text, bytes and headers, in every spelling a server may echo.

A server or a proxy in front of it may hand the key back changed: lowercased or uppercased
(URL rewrites), percent-encoded with upper- or lowercase hex, ``+`` for a space, or escaped
inside a JSON string (``\\/``, ``\\u00e9``, ``\\u00E9``), and any mix of these from one
character to the next. :class:`Redactor` compiles, once per session, one regular expression
per kind of input (str and bytes) that matches the key in all those spellings. It only runs
when an error is built or raw headers are handed out, never on a successful decode.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable

from multidict import CIMultiDict, CIMultiDictProxy

from ._config import REDACTED

__all__ = ["Redactor"]

# The two-character escapes JSON has for some characters (besides \uXXXX for any of them).
_JSON_SHORT = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n",
               "\r": "\\r", "\t": "\\t"}


def _case_variants(char: str) -> set[str]:
    """The character and what case mapping can turn it into (possibly several characters)."""
    return {v for v in (char, char.lower(), char.upper(), char.casefold(), char.swapcase()) if v}


def _escapes(char: str) -> set[str]:
    """ASCII spellings of one code point: %XX per UTF-8 byte, JSON escapes, ``+`` for space."""
    forms = {"".join(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass"))}
    point = ord(char)
    if point > 0xFFFF:  # JSON spells it as a UTF-16 surrogate pair
        point -= 0x10000
        forms.add(f"\\u{0xD800 + (point >> 10):04X}\\u{0xDC00 + (point & 0x3FF):04X}")
    else:
        forms.add(f"\\u{point:04X}")
    if char in _JSON_SHORT:
        forms.add(_JSON_SHORT[char])
    if char == " ":
        forms.add("+")
    return forms


def _text_forms(char: str) -> set[str]:
    forms = {char} | _escapes(char)
    raw = char.encode("utf-8", "surrogatepass")
    if len(raw) > 1:  # UTF-8 bytes read as Latin-1 (a common mis-decoding)
        forms.add(raw.decode("latin-1"))
    # A Latin-1 byte read by a UTF-8 decoder with surrogateescape (header values).
    with contextlib.suppress(UnicodeEncodeError):
        forms.add(char.encode("latin-1").decode("utf-8", "surrogateescape"))
    return forms


def _byte_forms(char: str) -> set[bytes]:
    forms = {f.encode("ascii") for f in _escapes(char)}
    forms.add(char.encode("utf-8", "surrogatepass"))
    with contextlib.suppress(UnicodeEncodeError):
        forms.add(char.encode("latin-1"))
    return forms


def _alternation(options: Iterable[str]) -> str:
    # Longest first, so that a longer spelling wins over its own prefix.
    return "(?:" + "|".join(re.escape(o) for o in sorted(set(options), key=len,
                                                         reverse=True)) + ")"


def _byte_alternation(options: Iterable[bytes]) -> bytes:
    return b"(?:" + b"|".join(re.escape(o) for o in sorted(set(options), key=len,
                                                           reverse=True)) + b")"


class Redactor:
    """Replaces every spelling of one secret with ``***`` in text, bytes and headers.

    ``longest`` is an upper bound on the length of one spelling (in characters or bytes):
    redacting the first ``n + longest`` units of a long input is enough to make its first
    ``n`` clean.
    """

    __slots__ = ("_bytes", "_text", "longest")

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the secret must not be empty")
        text_parts: list[str] = []
        byte_parts: list[bytes] = []
        longest = 0
        for char in secret:
            text_options: list[str] = []
            byte_options: list[bytes] = []
            widest = 0
            for variant in _case_variants(char):
                text_group = [_alternation(_text_forms(c)) for c in variant]
                byte_group = [_byte_alternation(_byte_forms(c)) for c in variant]
                text_options.append("".join(text_group))
                byte_options.append(b"".join(byte_group))
                widest = max(widest, sum(
                    max(max(len(f) for f in _text_forms(c)),
                        max(len(f) for f in _byte_forms(c))) for c in variant
                ))
            text_parts.append("(?:" + "|".join(text_options) + ")")
            byte_parts.append(b"(?:" + b"|".join(byte_options) + b")")
            longest += widest
        # IGNORECASE also covers the hex digits of %xx and \uxxxx in either case.
        self._text = re.compile("".join(text_parts), re.IGNORECASE)
        self._bytes = re.compile(b"".join(byte_parts), re.IGNORECASE)
        self.longest = longest

    def text(self, text: str) -> str:
        return self._text.sub(REDACTED, text)

    def data(self, data: bytes) -> bytes:
        return self._bytes.sub(REDACTED.encode(), data)

    def headers(self, headers: Iterable[tuple[str, str]]) -> CIMultiDictProxy[str]:
        return CIMultiDictProxy(CIMultiDict((self.text(k), self.text(v)) for k, v in headers))
