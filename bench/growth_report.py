"""The growth benchmark's one table: each read (and each sweeper's pass), its median time and response
size at each size, and the ratio of the largest size to the smallest. A time ratio over 2x, a
response that grows by more than half, and an answer other than 200 are the findings."""

from dataclasses import dataclass, field

from bench.growth_http import Measure

TIME_GOAL = 2.0  # issue 21: a request costs no more than twice as much at 100x the rows
SIZE_GOAL = 1.5  # a response that grows with its table is one that should be paginated
LABEL_WIDTH = 52


@dataclass
class Row:
    label: str
    caller: str
    measures: dict[int, Measure] = field(default_factory=dict)
    sized: bool = True  # a sweeper's pass has no response

    def ratio(self, sizes: list[int]) -> float | None:
        first, last = self.measures.get(sizes[0]), self.measures.get(sizes[-1])
        if first is None or last is None or first.seconds <= 0:
            return None
        return last.seconds / first.seconds

    def size_ratio(self, sizes: list[int]) -> float | None:
        first, last = self.measures.get(sizes[0]), self.measures.get(sizes[-1])
        if not self.sized or first is None or last is None or first.size <= 0:
            return None
        return last.size / first.size

    @property
    def paged(self) -> bool:
        return any(measure.paged for measure in self.measures.values())

    def failed(self) -> list[str]:
        return [f"{measure.status} at {size:,}" for size, measure in self.measures.items() if measure.status != 200]

    def findings(self, sizes: list[int]) -> list[str]:
        found = []
        if (ratio := self.ratio(sizes)) is not None and ratio > TIME_GOAL:
            found.append(f"time {ratio:.2f}x")
        if (grown := self.size_ratio(sizes)) is not None and grown > SIZE_GOAL and not self.paged:
            found.append(f"response {grown:.2f}x")
        return found + [f"answered {status}" for status in self.failed()]


def _size(measure: Measure) -> str:
    if measure.status != 200:
        return f"HTTP {measure.status}"
    if measure.size >= 1_000_000:
        return f"{measure.size / 1_000_000:.1f} MB"
    if measure.size >= 1000:
        return f"{measure.size / 1000:.1f} kB"
    return f"{measure.size} B"


def _cell(measure: Measure | None, sized: bool) -> str:
    if measure is None:
        return f"{'-':>20}"
    seconds = measure.seconds
    time_text = f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"
    return f"{time_text:>10} {_size(measure) if sized else '':>9}"


def _ratio(value: float | None, goal: float, mark: str, flagged: bool = True) -> str:
    if value is None:
        return f"{'-':>8}"
    return f"{value:7.2f}x{mark if value > goal and flagged else ' '}"


def table(rows: list[Row], sizes: list[int]) -> list[str]:
    head = f"{'read':<{LABEL_WIDTH}} {'caller':<6} " + " ".join(f"{f'{size:,} rows':>20}" for size in sizes)
    head += f" {'time':>9} {'size':>9}"
    lines = [head, "-" * len(head)]
    for row in rows:
        cells = " ".join(_cell(row.measures.get(size), row.sized) for size in sizes)
        size_ratio = _ratio(row.size_ratio(sizes), SIZE_GOAL, "^", flagged=not row.paged)
        ratios = f"{_ratio(row.ratio(sizes), TIME_GOAL, '!')} {size_ratio}"
        notes = sorted({measure.note for measure in row.measures.values() if measure.note})
        noted = "".join(f"  ({note})" for note in notes)
        lines.append(f"{row.label:<{LABEL_WIDTH}} {row.caller:<6} {cells} {ratios}{noted}")
    return lines


def report(rows: list[Row], sizes: list[int]) -> tuple[list[str], int]:
    """The table, the legend and the findings; and how many findings there are."""
    lines = table(rows, sizes)
    lines += [
        "",
        f"time, size: median of the requests at each size (the sweepers: of their passes) and the response's"
        f" bytes; ratios are {sizes[-1]:,} rows over {sizes[0]:,}.",
        f"! time ratio over {TIME_GOAL:g}x (goal: at most {TIME_GOAL:g}x)   ^ the response grows (over"
        f" {SIZE_GOAL:g}x: it should be paginated); a page (items, next_cursor) is bounded by its limit, so"
        " a page that fills up as the data grows is not marked",
    ]
    findings = [(row, row.findings(sizes)) for row in rows]
    found = [(row, what) for row, what in findings if what]
    lines += ["", f"findings: {len(found)}" + ("" if found else " (every ratio within its goal)")]
    lines += [f"  {row.label} [{row.caller}]: {', '.join(what)}" for row, what in found]
    return lines, len(found)
