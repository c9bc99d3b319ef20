"""The jobs' own exception."""

from __future__ import annotations


class JobSetupError(ValueError):
    """A job refused before anything is fetched or written (the CLI's exit status 2): an
    existing output without ``resume``/``overwrite``, a resume that cannot work, a bad
    option."""
