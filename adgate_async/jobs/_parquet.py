"""Parquet parts (optional extra ``parquet``: pyarrow)."""

from __future__ import annotations

from .. import UserResult
from ._errors import JobSetupError


class ParquetPart:
    def __init__(self, path: str) -> None:
        raise JobSetupError("Parquet output is not available yet")

    def write(self, position: int, result: UserResult) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
