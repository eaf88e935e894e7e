"""Fixed histogram buckets of run and wait time, for the per-minute job metrics (job_metric_minute).

Ten buckets a decade (the R10 series: 1, 1.25, 1.6, 2, 2.5, 3.15, 4, 5, 6.3, 8), from 1 ms to
10^7 ms (2.8 h), and one more for anything longer: 72 counts per row. Buckets of any minutes and
functions add up (a count per bucket), so a day's percentile is read from 1,440 rows of counts,
never from the raw runs. A percentile is the upper bound of the bucket where its rank falls: never
below the true value, and at most one bucket (25%) above it.
"""

from collections.abc import Iterable, Sequence
from math import ceil

_R10 = (1.0, 1.25, 1.6, 2.0, 2.5, 3.15, 4.0, 5.0, 6.3, 8.0)
DECADES = 7
# Upper bounds (ms, inclusive) of every bucket but the last, which holds anything above BOUNDS_MS[-1].
BOUNDS_MS: tuple[float, ...] = (
    *(round(step * 10**decade, 6) for decade in range(DECADES) for step in _R10),
    10.0**DECADES,
)
BUCKETS = len(BOUNDS_MS) + 1


def bucket_of(ms: float) -> int:
    """The bucket a duration falls in (0: up to 1 ms; BUCKETS - 1: above 10^7 ms)."""
    low, high = 0, len(BOUNDS_MS)
    while low < high:  # the first bound >= ms
        middle = (low + high) // 2
        if BOUNDS_MS[middle] < ms:
            low = middle + 1
        else:
            high = middle
    return low


def empty() -> list[int]:
    return [0] * BUCKETS


def added(into: list[int], other: Sequence[int]) -> list[int]:
    """`into` plus `other`, bucket by bucket (in place, and returned)."""
    for index, count in enumerate(other):
        into[index] += count
    return into


def percentile(counts: Sequence[int], q: float) -> float | None:
    """The q-th quantile (0 < q <= 1) of what `counts` counted, as the upper bound of its bucket (the
    top bucket reads as 10^7 ms: "at least"); None when nothing was counted."""
    total = sum(counts)
    if total == 0:
        return None
    rank = max(1, ceil(q * total))  # the rank-th smallest value
    seen = 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return BOUNDS_MS[min(index, len(BOUNDS_MS) - 1)]
    return BOUNDS_MS[-1]


def histogram(values_ms: Iterable[float]) -> list[int]:
    counts = empty()
    for value in values_ms:
        counts[bucket_of(value)] += 1
    return counts
