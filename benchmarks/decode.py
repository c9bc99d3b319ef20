"""Decode: our typed msgspec models against json.loads, orjson, pydantic v2 and dataclasses.

    python -m benchmarks.decode [--quick]

The same bytes go to every decoder: vendor-shaped histories of 1, 20 and 200 offers and
personalized responses of 50 and 500 offers (``benchmarks._payloads``). "ours" is the
session's default, lenient decoder (msgspec ``strict=False``); "ours strict" the decoder of
``AsyncSession(strict=True)``, timed alongside on the same well-typed bytes. Before any timing,
every decoder's result is checked to hold the same data, so each does the same logical work.
Each cell is the median, over interleaved samples, of the time per body; ``gc.collect()``
runs before each sample and the garbage collector stays enabled while timing, as in a real
process.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import itertools
import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import msgspec
import orjson
import pydantic

from adgate_async.models import (
    HISTORY_DECODER,
    HISTORY_STRICT_DECODER,
    PERSONALIZED_DECODER,
    PERSONALIZED_STRICT_DECODER,
)
from benchmarks import _dataclass_models as dc
from benchmarks import _pydantic_models as pm
from benchmarks._payloads import history_body, personalized_body
from benchmarks._report import Check, Section

Decoder = Callable[[bytes], object]

# Column order of the table; "pydantic TypeAdapter" is timed too but only reported in a note.
OURS, JSON, ORJSON, PYDANTIC, DATACLASSES = "ours", "json", "orjson", "pydantic", "dataclasses"
OURS_STRICT = "ours strict"
TYPE_ADAPTER = "pydantic TypeAdapter"
COLUMNS = (OURS, JSON, ORJSON, PYDANTIC, DATACLASSES)
# The decoders that turn JSON integers into floats for float fields (dataclasses do not).
COERCING = (OURS, OURS_STRICT, PYDANTIC, TYPE_ADAPTER)

HISTORY_SIZES = (1, 20, 200)
PERSONALIZED_SIZES = (50, 500)
CHECKED_HISTORY = 200  # the targets are checked on this body (a large page of history)
# (decoder, its name in the check, lowest ratio of its time to ours)
TARGETS = ((JSON, "json.loads", 4.0), (ORJSON, "orjson", 1.5), (PYDANTIC, "pydantic v2", 4.0))


def _decoders(kind: str) -> dict[str, Decoder]:
    if kind == "history":
        return {
            OURS: HISTORY_DECODER.decode,
            OURS_STRICT: HISTORY_STRICT_DECODER.decode,
            JSON: json.loads,
            ORJSON: orjson.loads,
            PYDANTIC: pm.History.model_validate_json,
            DATACLASSES: dc.decode_history,
            TYPE_ADAPTER: pydantic.TypeAdapter(pm.History).validate_json,
        }
    return {
        OURS: PERSONALIZED_DECODER.decode,
        OURS_STRICT: PERSONALIZED_STRICT_DECODER.decode,
        JSON: json.loads,
        ORJSON: orjson.loads,
        PYDANTIC: pm.Personalized.model_validate_json,
        DATACLASSES: dc.decode_personalized,
        TYPE_ADAPTER: pydantic.TypeAdapter(pm.Personalized).validate_json,
    }


# -- the same logical result from every decoder ---------------------------------------------------


def _get(obj: object, name: str) -> Any:
    """A member of a decoded value, whether it is a dict or a typed object."""
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def _fingerprint(kind: str, result: object) -> tuple[Any, ...]:
    """Every offer id, and nested values of the first and the last offer."""
    ends: tuple[Any, ...]
    if kind == "history":
        offers = _get(result, "data")
        ends = tuple(
            (_get(o, "anchor"), _get(o, "points"), _get(o, "total_points"),
             _get(o, "hours_left"), tuple(_get(o, "categories")),
             tuple((_get(e, "uuid"), _get(e, "status"), _get(e, "flat_points"),
                    _get(e, "dynamic_points")) for e in _get(o, "events")))
            for o in (offers[0], offers[-1])
        )
    else:
        offers = _get(result, "offers")
        ends = tuple(
            (_get(o, "hot_offers_order"), _get(o, "total_user_reward"), _get(o, "sortmetric"),
             _get(o, "bundle_id"), _get(_get(o, "creatives")[0], "url"),
             tuple((_get(e, "event_id"), _get(e, "user_reward"), _get(e, "payout"))
                   for e in _get(o, "events")))
            for o in (offers[0], offers[-1])
        )
    return tuple(_get(o, "offer_id") for o in offers), ends


def _builtins(result: object) -> Any:
    """A typed result as plain dicts and lists, to compare the typed decoders in full."""
    if isinstance(result, msgspec.Struct):  # to_builtins would keep the tuple fields
        return msgspec.json.decode(msgspec.json.encode(result))
    if isinstance(result, pydantic.BaseModel):
        return result.model_dump()
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    return result


def _covers(typed: Any, raw: Any, path: str = "$") -> None:
    """``typed`` (a model dumped to builtins) holds every known value of ``raw`` (the dicts),
    and only defaults besides."""
    if isinstance(raw, dict):
        assert isinstance(typed, dict), path
        for key, value in raw.items():
            if key in typed:  # an unknown key is ignored by every typed decoder alike
                _covers(typed[key], value, f"{path}.{key}")
        for key in typed.keys() - raw.keys():
            assert typed[key] in (None, [], 0), f"{path}.{key}: {typed[key]!r}"
    elif isinstance(raw, list):
        assert isinstance(typed, list), path
        assert len(typed) == len(raw), path
        for i, (t, r) in enumerate(zip(typed, raw, strict=True)):
            _covers(t, r, f"{path}[{i}]")
    else:
        assert typed == raw, f"{path}: {typed!r} != {raw!r}"


def verify(kind: str, body: bytes, decoders: dict[str, Decoder]) -> None:
    """Fail unless every decoder yields the same data from ``body``."""
    results = {name: fn(body) for name, fn in decoders.items()}
    fingerprints = {name: _fingerprint(kind, r) for name, r in results.items()}
    expected = fingerprints[OURS]
    for name, fp in fingerprints.items():
        assert fp == expected, f"{kind}: {name} decodes differently from ours"
    float_field = "points" if kind == "history" else "total_user_reward"
    for name in COERCING:
        offer = _get(results[name], "data" if kind == "history" else "offers")[0]
        assert type(_get(offer, float_field)) is float, f"{name}: {float_field} is not a float"
    raw = results[JSON]
    assert results[ORJSON] == raw, f"{kind}: orjson and json.loads disagree"
    full = _builtins(results[OURS])
    assert results[OURS_STRICT] == results[OURS], f"{kind}: strict and lenient differ"
    for name in (PYDANTIC, TYPE_ADAPTER, DATACLASSES):
        assert _builtins(results[name]) == full, f"{kind}: {name} differs from ours in full"
    _covers(full, raw)


# -- timing ---------------------------------------------------------------------------------------


def _loop(fn: Decoder, body: bytes, loops: int) -> int:
    """Nanoseconds for ``loops`` decodes; each result is dropped before the next decode."""
    repeat = itertools.repeat(None, loops)
    start = time.perf_counter_ns()
    for _ in repeat:
        fn(body)
    return time.perf_counter_ns() - start


def _calibrate(fn: Decoder, body: bytes, target_ns: int) -> int:
    """The number of decodes one sample needs to last at least ``target_ns`` (warms up too)."""
    loops = 1
    while True:
        elapsed = _loop(fn, body, loops)
        if elapsed >= target_ns:
            return loops
        wanted = int(loops * target_ns * 1.2 / max(elapsed, 1))
        loops = min(loops * 10, max(loops * 2, wanted))


def measure(body: bytes, decoders: dict[str, Decoder], *, samples: int,
            target_ns: int) -> dict[str, float]:
    """Median µs per decode of ``body`` for each decoder; samples interleaved across them."""
    loops: dict[str, int] = {}
    for name, fn in decoders.items():
        gc.collect()
        loops[name] = _calibrate(fn, body, target_ns)
    per_call: dict[str, list[float]] = {name: [] for name in decoders}
    for _ in range(samples):
        for name, fn in decoders.items():
            gc.collect()
            per_call[name].append(_loop(fn, body, loops[name]) / loops[name] / 1000)
    return {name: statistics.median(times) for name, times in per_call.items()}


# -- the section ----------------------------------------------------------------------------------


def _us(value: float) -> str:
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def _label(kind: str, offers: int) -> str:
    return f"{kind} {offers} offer{'' if offers == 1 else 's'}"


def run(quick: bool) -> Section:
    samples, target_ns = (3, 2_000_000) if quick else (15, 20_000_000)
    bodies = [("history", n, history_body(n)) for n in HISTORY_SIZES]
    bodies += [("personalized", n, personalized_body(n)) for n in PERSONALIZED_SIZES]
    rows = [["body", "bytes", "ours µs", "json.loads µs", "orjson µs", "pydantic µs",
             "json+dataclasses µs", "vs json", "vs orjson", "vs pydantic", "vs dataclasses",
             "ours strict µs", "lenient / strict"]]
    checks: list[Check] = []
    adapter_ratios: list[float] = []
    for kind, offers, body in bodies:
        decoders = _decoders(kind)
        verify(kind, body, decoders)
        us = measure(body, decoders, samples=samples, target_ns=target_ns)
        ours = us[OURS]
        rows.append([_label(kind, offers), f"{len(body):,}"]
                    + [_us(us[name]) for name in COLUMNS]
                    + [f"{us[name] / ours:.1f}x" for name in COLUMNS[1:]]
                    + [_us(us[OURS_STRICT]), f"{ours / us[OURS_STRICT]:.3f}"])
        adapter_ratios.append(us[TYPE_ADAPTER] / us[PYDANTIC])
        if kind == "history" and offers == CHECKED_HISTORY:
            checks += [Check(f"decode {_label(kind, offers)}: ours vs {label}",
                             us[name] / ours, target)
                       for name, label, target in TARGETS]
    notes = [
        f"Median of {samples} samples per cell, each a loop of >= {target_ns // 1_000_000} ms, "
        "samples interleaved across decoders, gc.collect() before each, GC enabled while "
        "timing. Every decoder was first checked to yield the same data from each body.",
        "ours = the default, lenient decoder (numbers and bools sent as strings are taken); "
        "ours strict = AsyncSession(strict=True)'s decoder. Both decode the same well-typed "
        "bytes; lenient / strict is the ratio of their times (1.000: no cost).",
        "json+dataclasses = json.loads + hand-written from_dict into frozen slotted dataclasses;"
        " it checks no types and keeps JSON integers as ints, so it does less than ours.",
        "pydantic TypeAdapter(Model).validate_json / Model.model_validate_json: "
        + ", ".join(f"{r:.2f}" for r in adapter_ratios) + " (same order as the rows).",
        f"Python {platform.python_version()}, msgspec {msgspec.__version__}, "
        f"orjson {orjson.__version__}, pydantic {pydantic.VERSION}.",
    ]
    command = "python -m benchmarks.decode" + (" --quick" if quick else "")
    return Section(title="Decode: typed msgspec models vs the alternatives", command=command,
                   rows=rows, checks=checks, notes=notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer, shorter samples (a smoke run, a few seconds)")
    args = parser.parse_args()
    print(run(quick=args.quick).text())


if __name__ == "__main__":
    main()
