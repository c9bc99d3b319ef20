"""What keeping decoded histories costs: list fields against tuple fields, and the collector.

    python -m benchmarks.gc_cost [--quick] [--offers 200] [--kept 1500] [--rounds 3]

Decodes the same vendor-shaped history ``--kept`` times, keeping every result (as a batch
returning its results does), with three copies of the history models that differ only in
their array fields: ``list[...]`` (``benchmarks._list_models``), ``tuple[...]``
(``benchmarks._tuple_models``), and the package's own models as they are. Each row gives
the time per decode, the share of it spent in the cyclic garbage collector (timed with
``gc.callbacks``), the collections of the oldest generation it triggered, and how many
objects the collector tracks at the end over those it tracked before. The same with the
collector disabled, and with each result dropped at once, give the bounds.

Every model is a ``gc=False`` Struct, untracked by the collector. A list is always tracked;
a tuple whose items are all untracked (strings, numbers, untracked Structs) is untracked
once the collector has seen it, so tuple fields leave almost nothing to walk.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

from adgate_async.models import HISTORY_DECODER
from benchmarks import _list_models, _tuple_models
from benchmarks._payloads import history_body
from benchmarks._report import Section

Decode = Callable[[bytes], Any]
MODELS: dict[str, Decode] = {
    "list fields (benchmarks/_list_models.py)": _list_models.HISTORY_DECODER.decode,
    "tuple fields (benchmarks/_tuple_models.py)": _tuple_models.HISTORY_DECODER.decode,
    "the package's models": HISTORY_DECODER.decode,
}
# (label, keep results, collector enabled)
MODES = (("kept", True, True), ("kept, gc disabled", True, False), ("dropped", False, True))


class _CollectorClock:
    """Seconds spent in the collector and oldest-generation collections, via gc.callbacks."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.full += info["generation"] == 2


def _one(decode: Decode, body: bytes, kept: int, keep: bool, enabled: bool
         ) -> tuple[float, float, int, int]:
    """(ms per decode, share in the collector, full collections, objects tracked after)."""
    gc.collect()
    clock = _CollectorClock()
    results: list[Any] = []
    gc.callbacks.append(clock)
    if not enabled:
        gc.disable()
    try:
        started = time.perf_counter()
        for _ in range(kept):
            if keep:
                results.append(decode(body))
            else:
                decode(body)
        elapsed = time.perf_counter() - started
    finally:
        gc.enable()
        gc.callbacks.remove(clock)
    tracked = len(gc.get_objects())
    del results
    gc.collect()
    return elapsed * 1e3 / kept, clock.seconds / elapsed, clock.full, tracked


def section(quick: bool, offers: int = 200, kept: int | None = None,
            rounds: int | None = None) -> Section:
    kept = kept or (100 if quick else 1_500)
    rounds = rounds or (1 if quick else 3)
    body = history_body(offers)
    gc.collect()
    baseline = len(gc.get_objects())
    rows = [["models", "results", "ms per decode", "in the collector", "full collections",
             "objects tracked after"]]
    cases = [(label, keep, enabled, name, decode)
             for label, keep, enabled in MODES for name, decode in MODELS.items()]
    runs: dict[tuple[str, str], list[tuple[float, float, int, int]]] = {
        (label, name): [] for label, _, _, name, _ in cases}
    for _ in range(rounds):  # rounds interleaved: a slow spell of the machine hits every row
        for label, keep, enabled, name, decode in cases:
            runs[label, name].append(_one(decode, body, kept, keep, enabled))
    for label, _, _, name, _ in cases:
        mine = runs[label, name]
        ms, share, full, tracked = (statistics.median(r[i] for r in mine) for i in range(4))
        rows.append([name, label, f"{ms:.2f}", f"{share:.0%}", f"{full:g}",
                     f"{tracked - baseline:+,.0f}"])
    command = "python -m benchmarks.gc_cost" + (" --quick" if quick else "")
    return Section(
        title=f"Keeping results: list against tuple fields, {kept:,} decodes of a "
              f"{offers}-offer history ({len(body):,} bytes) kept, medians of {rounds}",
        command=command,
        rows=rows,
        notes=[f"\"Objects tracked after\" counts the collector's tracked objects with every "
               f"result still alive, over the {baseline:,} tracked before. A list is always "
               "tracked, so with list fields every list of every kept history (the events and "
               "categories of each offer) is there for each collection to walk, and the oldest "
               "generation is walked again as the batch grows. Tuples of untracked items are "
               "untracked once the collector has seen them (hence the row with the collector "
               "disabled). `array_like=True` (Structs as JSON arrays) would decode faster "
               "still but changes the wire format, so it cannot read the vendor's JSON "
               "objects: not applicable."],
    )


def run(quick: bool) -> Section:
    return section(quick)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--offers", type=int, default=200)
    parser.add_argument("--kept", type=int, help="decodes kept per run (default 1500)")
    parser.add_argument("--rounds", type=int, help="runs per row, median (default 3)")
    args = parser.parse_args()
    print(section(args.quick, args.offers, args.kept, args.rounds).text())


if __name__ == "__main__":
    main()
