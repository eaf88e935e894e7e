"""The shape of the growth benchmark's data, shared by what seeds it (bench/growth_data.py) and what
reads it (bench/growth_reads.py): how many rows of each table at a size, and the rows every read
is pointed at (fixed ids, so no read depends on a lookup that could itself grow)."""

from collections.abc import Callable
from dataclasses import dataclass

ADMIN, MODERATOR, AUTHOR = 1, 2, 3  # user ids
USERNAMES = {ADMIN: "growth_admin", MODERATOR: "growth_moderator", AUTHOR: "growth_author"}
BIG_TEAMS = 3
HOT_POST = 1  # 5% of all comments
MOVED_HERO = 1  # 5% of all transfer logs
SUBTREE_ROOT = 10  # the end of the chain: ~7% of the categories below it
NORMAL_COURSE, BIG_COURSE = 2, 1
STUDENT = 1
# Constant whatever the size: what the sweepers and the ops backlog have to look at.
PENDING_OUTBOX, DEAD_LETTERS = 100, 5
QUEUED_RECORDS, RUNNING_RECORDS = 20, 5
SPINE = 10
ROOTS = 5
SYLLABLES = ("ka", "lo", "mi", "ra", "su", "te", "vo", "xi", "ze", "bu")
WORDS = [a + b for a in SYLLABLES for b in SYLLABLES]  # 100 four-letter title words
COMMON_WORD = WORDS[17]  # in ~2% of titles
RARE_WORD = "zephyr"  # in one title of 100,000
# Posts, comments, transfers... are 15 s apart on one time line: newer rows are written later.
TIME_LINE = "timestamptz '2025-06-01 00:00+00' + g * interval '15 seconds'"


@dataclass(frozen=True)
class Scale:
    """How many rows of each table at size n (n rows of each big table)."""

    n: int

    @property
    def users(self) -> int:
        return max(30, self.n // 20)

    @property
    def categories(self) -> int:
        return max(SPINE + ROOTS + 5, self.n // 100)

    @property
    def tenth(self) -> int:  # products, articles, images
        return max(20, self.n // 10)

    @property
    def students(self) -> int:
        return max(30, self.n // 20)

    @property
    def courses(self) -> int:
        # The big open course, and classes of ~30 (each student takes 3); at least 7 classes, so a
        # student's 3 are 3 different ones (bench/growth_data_more.py).
        return 1 + max(7, self.students // 10)

    @property
    def queued_jobs(self) -> int:
        return max(10, self.n // 10)


def spans(before: Scale | None, after: Scale) -> dict[str, tuple[int, int]]:
    """Per kind of table, the (first, last) id that growing from `before` (None: nothing) to
    `after` adds."""
    sizes: dict[str, Callable[[Scale], int]] = {
        "users": lambda scale: scale.users,
        "categories": lambda scale: scale.categories,
        "tenth": lambda scale: scale.tenth,
        "students": lambda scale: scale.students,
        "courses": lambda scale: scale.courses,
        "big": lambda scale: scale.n,
    }
    return {name: ((size(before) if before else 0) + 1, size(after)) for name, size in sizes.items()}
