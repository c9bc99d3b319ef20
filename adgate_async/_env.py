"""The environment variables that stand in for arguments left out, for the session and the
command line alike (one definition of their names).

An empty variable counts as unset. A bad value is an :class:`InvalidParameterError` naming
the variable, the argument it stands for and the rule, never the value (it may be the key,
or a URL carrying a secret).
"""

from __future__ import annotations

import os
import re
from typing import Final

from . import _config, _params
from ._errors import InvalidParameterError

__all__ = ["VARIABLES", "base_url", "positive_int", "text"]

AFF_ID: Final = "ADGATE_AFF_ID"
API_KEY: Final = "ADGATE_API_KEY"
WALL_CODE: Final = "ADGATE_WALL_CODE"
WALL_ID: Final = "REVU_WALL_ID"
ADGATE_BASE_URL: Final = "ADGATE_BASE_URL"
REVU_BASE_URL: Final = "REVU_BASE_URL"

#: The session's argument -> the variable read when it is left out.
VARIABLES: Final = {
    "aff_id": AFF_ID,
    "api_key": API_KEY,
    "wall_code": WALL_CODE,
    "wall_id": WALL_ID,
    "adgate_base_url": ADGATE_BASE_URL,
    "revu_base_url": REVU_BASE_URL,
}

# At most 19 significant digits (an int64): int() of thousands of digits would fail with
# Python's own message, naming neither the variable nor the rule.
_DIGITS: Final = re.compile(r"[0-9]{1,19}")


def text(param: str) -> str | None:
    """The variable standing in for ``param``, or None when it is unset or empty."""
    return os.environ.get(VARIABLES[param]) or None


def _refuse(param: str, rule: str) -> InvalidParameterError:
    return InvalidParameterError(
        VARIABLES[param], f"{rule} (read for {param}; its value is not shown)", show=False
    )


def positive_int(param: str) -> int | None:
    """The variable standing in for an id (``aff_id``, ``wall_id``) as an int, or None."""
    value = text(param)
    if value is None:
        return None
    digits = value.strip().removeprefix("+").lstrip("0")
    if _DIGITS.fullmatch(digits) is None or int(digits) > _config.INT64_MAX:
        raise _refuse(param, f"must be a positive integer, at most {_config.INT64_MAX}")
    return int(digits)


def base_url(param: str) -> str | None:
    """The variable standing in for a base URL, checked as the argument would be, or None."""
    value = text(param)
    if value is None:
        return None
    try:
        return _params.check_base_url(param, value)
    except InvalidParameterError as exc:
        rule = exc.rule
    # Raised outside the handler: the first error (which shows the value) is not its context.
    raise _refuse(param, rule)
