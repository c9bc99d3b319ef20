"""``DoneSet``: which input positions a job has already written, as a bitmap.

One bit per position up to the highest one seen: 10**7 positions take 1.25 MB, whatever the
ids look like (a set of 10**7 id strings would take around 1 GB).
"""

from __future__ import annotations


class DoneSet:
    """A growable bitmap of non-negative ints."""

    __slots__ = ("_bits", "count")

    def __init__(self) -> None:
        self._bits = bytearray()
        #: How many distinct positions are in the set.
        self.count = 0

    def add(self, position: int) -> bool:
        """Add ``position``; False when it was already there."""
        byte = position >> 3
        bits = self._bits
        if byte >= len(bits):
            bits.extend(bytes(max(byte + 1 - len(bits), len(bits))))
        mask = 1 << (position & 7)
        if bits[byte] & mask:
            return False
        bits[byte] |= mask
        self.count += 1
        return True

    def __contains__(self, position: int) -> bool:
        byte = position >> 3
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << (position & 7)))

    def __len__(self) -> int:
        return self.count

    @property
    def nbytes(self) -> int:
        """Memory held by the bitmap."""
        return len(self._bits)
