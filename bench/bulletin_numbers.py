"""Bulletin numbering cost: the one-pass heap numbering beside the plain quadratic reading of the same rule.

Usage: python bench/bulletin_numbers.py [--sizes 100,500,2000] [--repeat 5]

Builds synthetic timelines (情况通报 with some press notices, some withdrawn after publication and some cancelled
before their time), checks that both methods give the same numbers, and prints the median time of each per size.
The quadratic version is the baseline, measured in the same run: it is the rule written as the issue states it.
Figures on a shared machine are provisional.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portal.models.bulletin import KIND_PRESS, KIND_UPDATE, number_timeline  # noqa: E402


@dataclass
class Row:
    """The fields numbering reads, without a database."""

    id: int
    kind: str
    publish_at: datetime
    withdrawn_at: datetime | None

    @property
    def is_cancelled(self) -> bool:
        return self.withdrawn_at is not None and self.withdrawn_at < self.publish_at


def quadratic(updates) -> dict[int, int]:
    """The baseline: for each bulletin, look at every earlier one."""
    ordered = sorted((u for u in updates if u.kind == KIND_UPDATE and not u.is_cancelled),
                     key=lambda u: (u.publish_at, u.id))
    numbers: dict[int, int] = {}
    for i, update in enumerate(ordered):
        standing = [numbers[v.id] for v in ordered[:i] if v.withdrawn_at is None or v.withdrawn_at > update.publish_at]
        numbers[update.id] = max(standing, default=0) + 1
    return numbers


def timeline(size: int, rng: random.Random) -> list[Row]:
    start = datetime(2026, 11, 24, tzinfo=UTC)
    rows = []
    for i in range(size):
        at = start + timedelta(minutes=10 * i)
        kind = KIND_PRESS if rng.random() < 0.1 else KIND_UPDATE
        withdrawn = None
        roll = rng.random()
        if roll < 0.05:
            withdrawn = at - timedelta(minutes=5)  # cancelled before its time
        elif roll < 0.10:
            withdrawn = at + timedelta(minutes=rng.randint(1, 300))  # withdrawn after publication
        rows.append(Row(i + 1, kind, at, withdrawn))
    rng.shuffle(rows)
    return rows


def median_ms(fn, rows, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn(rows)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,500,2000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(16)
    print(f"{'updates':>8} {'quadratic (baseline) ms':>24} {'heap ms':>9} {'ratio':>7}")
    for size in (int(s) for s in args.sizes.split(",")):
        rows = timeline(size, rng)
        assert number_timeline(rows) == quadratic(rows), "the two readings of the rule disagree"
        base = median_ms(quadratic, rows, args.repeat)
        heap = median_ms(number_timeline, rows, args.repeat)
        print(f"{size:>8} {base:>24.2f} {heap:>9.2f} {base / heap if heap else float('inf'):>6.1f}x")


if __name__ == "__main__":
    main()
