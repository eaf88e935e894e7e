"""Every read the API offers, as the growth benchmark asks for it: each list's first page and a page
from the middle of its data (a cursor built from the seeded rows' known keys, with the app's own
position classes), each filter and the search, the nested and aggregate reads, the ops views; and
who asks (anonymous, the signed-in author, an admin) where what they may see differs."""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

import asyncpg

from bench.growth_history import history_reads
from bench.growth_shape import (
    AUTHOR,
    BIG_COURSE,
    BIG_TEAMS,
    COMMON_WORD,
    HOT_POST,
    MOVED_HERO,
    NORMAL_COURSE,
    RARE_WORD,
    STUDENT,
    SUBTREE_ROOT,
    Scale,
)
from services.api.main import API_PREFIX
from shared.schemas import IdPosition, NamePosition, TimeIdPosition
from shared.tagging.schemas import TypeIdPosition

ANON, AUTHOR_CALLER, ADMIN_CALLER = "anon", "author", "admin"
EVERYONE = (ANON, AUTHOR_CALLER, ADMIN_CALLER)
# The author sees what anyone sees of heroes, teams, courses: asking as them adds nothing.
PUBLIC_OR_ADMIN = (ANON, ADMIN_CALLER)
SIGNED_IN = (AUTHOR_CALLER, ADMIN_CALLER)
ONLY_ANON = (ANON,)
ONLY_ADMIN = (ADMIN_CALLER,)
# bench/growth_data.py's time lines: row g of the big tables at T0 + 15 s * g, of a tenth's at 150 s.
T0 = datetime.fromisoformat("2025-06-01T00:00:00+00:00")
NORMAL_TEAM = BIG_TEAMS + 1  # the first team of ~100 heroes


@dataclass(frozen=True)
class Read:
    label: str  # what the table calls it
    route: str  # the app's path template (for the coverage check)
    path: str  # what is asked, under the API prefix
    callers: tuple[str, ...]


@dataclass(frozen=True)
class Targets:
    """The rows the reads point at that need a query to find (the rest are fixed ids)."""

    deepest_category: int
    queued_record: str
    queued_job: str  # a ready job of the short queue, Redis only


async def find_targets(connection: asyncpg.Connection, queued_job: str) -> Targets:
    deepest = await connection.fetchval(
        """WITH RECURSIVE d (id, depth) AS (
               SELECT id, 1 FROM category WHERE parent_id IS NULL
               UNION ALL SELECT c.id, d.depth + 1 FROM category c JOIN d ON c.parent_id = d.id)
           SELECT id FROM d ORDER BY depth DESC, id LIMIT 1"""
    )
    record = await connection.fetchval("SELECT id FROM job WHERE status = 'queued' ORDER BY id LIMIT 1")
    return Targets(deepest, record, queued_job)


def _at(g: int, seconds: int = 15, extra: float = 0.0) -> datetime:
    return T0 + timedelta(seconds=g * seconds + extra)


def _q(path: str, **query: object) -> str:
    given = {key: value for key, value in query.items() if value is not None}
    return f"{path}?{urlencode(given)}" if given else path


def reads(scale: Scale, targets: Targets) -> list[Read]:
    """The reads at `scale`: the same list at every size, only the middle cursors and the few
    looked-up targets move with the data."""
    n, tenth = scale.n, scale.tenth
    mid = n // 2
    post_mid = TimeIdPosition(at=_at(mid), id=mid).encode()
    # A comment of the hot post near the middle (every 20th comment is on it: growth_data.py).
    hot_mid = mid - mid % 20 or 20
    comment_mid = TimeIdPosition(at=_at(hot_mid, extra=5), id=hot_mid).encode()
    transfer_mid = TimeIdPosition(at=_at(hot_mid), id=hot_mid).encode()
    hero_mid = IdPosition(id=mid).encode()
    team_mid = NamePosition(name="Team 5").encode()  # past ~half the names in text order
    item_mid = TimeIdPosition(at=_at(tenth // 2, 150), id=tenth // 2).encode()
    tagged_mid = TypeIdPosition(type="article", id=tenth // 2).encode()
    product_mid = IdPosition(id=tenth // 2).encode()
    complete_record = hashlib.md5(b"1").hexdigest()  # job record 1 is complete (growth_data_more.py)
    found: list[Read] = []

    def add(label: str, route: str, path: str, callers: tuple[str, ...]) -> None:
        found.append(Read(label, API_PREFIX + route, path, callers))

    def listed(label: str, route: str, path: str, callers: tuple[str, ...], deep: str | None, **query: object) -> None:
        """A list's first page and, with `deep`, the page after that position."""
        add(f"{label}, first page", route, _q(path, **query), callers)
        if deep is not None:
            add(f"{label}, middle page", route, _q(path, **query, cursor=deep), callers)

    posts = "/posts"
    listed("posts", posts, posts, EVERYONE, post_mid)
    listed("posts ?status=published", posts, posts, EVERYONE, post_mid, status="published")
    listed("posts ?status=draft", posts, posts, SIGNED_IN, post_mid, status="draft")
    listed("posts ?status=archived", posts, posts, SIGNED_IN, post_mid, status="archived")
    listed("posts ?author_id (a prolific author)", posts, posts, EVERYONE, post_mid, author_id=AUTHOR)
    listed("posts ?category_id", posts, posts, EVERYONE, post_mid, category_id=SUBTREE_ROOT)
    listed(
        "posts ?category_id&include_subcategories",
        posts,
        posts,
        EVERYONE,
        post_mid,
        category_id=SUBTREE_ROOT,
        include_subcategories="true",
    )
    listed("posts ?q=<a word in 2% of titles>", posts, posts, EVERYONE, post_mid, q=COMMON_WORD)
    listed("posts ?q=<a rare word>", posts, posts, EVERYONE, None, q=RARE_WORD)
    add("post", "/posts/{post_id}", f"/posts/{HOT_POST}", EVERYONE)
    comments = "/posts/{post_id}/comments"
    listed("comments of the hot post (5% of all)", comments, f"/posts/{HOT_POST}/comments", EVERYONE, comment_mid)
    # The middle post: the skew (random()^2 towards older posts) gives it about one comment.
    listed("comments of a typical post", comments, f"/posts/{mid}/comments", EVERYONE, None)

    heroes = "/heroes"
    listed("heroes", heroes, heroes, PUBLIC_OR_ADMIN, hero_mid)
    listed("heroes ?team=<a team of ~100>", heroes, heroes, PUBLIC_OR_ADMIN, None, team=f"Team {NORMAL_TEAM}")
    listed("heroes ?team=<a big team>", heroes, heroes, PUBLIC_OR_ADMIN, hero_mid, team="Big Team 1")
    listed("heroes ?min_age", heroes, heroes, PUBLIC_OR_ADMIN, hero_mid, min_age=70)
    listed("heroes ?min_power&max_power", heroes, heroes, PUBLIC_OR_ADMIN, hero_mid, min_power=40, max_power=60)
    add("hero", "/heroes/{hero_id}", f"/heroes/{mid}", PUBLIC_OR_ADMIN)
    transfers = "/heroes/{hero_id}/transfers"
    moved = f"/heroes/{MOVED_HERO}/transfers"
    listed("transfers of a much-moved hero", transfers, moved, PUBLIC_OR_ADMIN, transfer_mid)
    # Transfer log g (not every 20th) is of hero 1 + g * 7919 % n (growth_data_more.py): one of the middle's.
    logged = mid + 1 if (mid + 1) % 20 else mid + 2
    typical = f"/heroes/{1 + logged * 7919 % n}/transfers"
    listed("transfers of a typical hero", transfers, typical, PUBLIC_OR_ADMIN, None)

    listed("teams (with hero counts)", "/teams", "/teams", ONLY_ANON, team_mid)
    add("teams/top (heroes of the oldest team)", "/teams/top", "/teams/top", PUBLIC_OR_ADMIN)
    team = "/teams/{team_id}"
    add("team of ~100", team, f"/teams/{NORMAL_TEAM}", ONLY_ANON)
    add("team of ~100 ?include=heroes", team, _q(f"/teams/{NORMAL_TEAM}", include="heroes"), PUBLIC_OR_ADMIN)
    add(
        "team of ~100 ?include=heroes,heroes.items",
        team,
        _q(f"/teams/{NORMAL_TEAM}", include="heroes,heroes.items"),
        PUBLIC_OR_ADMIN,
    )
    add("big team (6% of heroes / 3) ?include=heroes", team, _q("/teams/1", include="heroes"), ONLY_ANON)

    add("categories/tree", "/categories/tree", "/categories/tree", ONLY_ANON)
    add("category", "/categories/{category_id}", f"/categories/{SUBTREE_ROOT}", ONLY_ANON)
    add(
        "ancestors of the deepest category",
        "/categories/{category_id}/ancestors",
        f"/categories/{targets.deepest_category}/ancestors",
        ONLY_ANON,
    )
    products = "/categories/{category_id}/products"
    listed("products of a category", products, f"/categories/{SUBTREE_ROOT}/products", ONLY_ANON, product_mid)
    listed(
        "products of a subtree (~7%)",
        products,
        f"/categories/{SUBTREE_ROOT}/products",
        ONLY_ANON,
        product_mid,
        descendants="true",
    )
    add("product", "/products/{product_id}", f"/products/{tenth // 2}", ONLY_ANON)

    listed("articles", "/articles", "/articles", EVERYONE, item_mid)
    listed("articles ?author_id", "/articles", "/articles", EVERYONE, item_mid, author_id=AUTHOR)
    add("article", "/articles/{article_id}", "/articles/1", EVERYONE)
    listed("images", "/images", "/images", ONLY_ANON, item_mid)
    listed("images ?author_id", "/images", "/images", ONLY_ANON, item_mid, author_id=AUTHOR)
    add("image", "/images/{image_id}", "/images/1", ONLY_ANON)
    listed("tags/popular (10% of items)", "/tags/{name}", "/tags/popular", EVERYONE, tagged_mid)
    listed("tags/<one of 200>", "/tags/{name}", "/tags/tag-5", ONLY_ANON, tagged_mid)

    add("student", "/students/{student_id}", f"/students/{STUDENT}", PUBLIC_OR_ADMIN)
    add("courses of a student", "/students/{student_id}/courses", f"/students/{STUDENT}/courses", PUBLIC_OR_ADMIN)
    add("course", "/courses/{course_id}", f"/courses/{NORMAL_COURSE}", ONLY_ANON)
    students = "/courses/{course_id}/students"
    add("students of a class (~30)", students, f"/courses/{NORMAL_COURSE}/students", PUBLIC_OR_ADMIN)
    add("students of the open course (10%)", students, f"/courses/{BIG_COURSE}/students", PUBLIC_OR_ADMIN)

    add("users/me", "/users/me", "/users/me", SIGNED_IN)
    add("user", "/users/{user_id}", f"/users/{AUTHOR}", ONLY_ADMIN)

    add("ops/queues (the summary)", "/ops/queues", "/ops/queues", ONLY_ADMIN)
    add("ops/jobs/<a finished record>", "/ops/jobs/{job_id}", f"/ops/jobs/{complete_record}", ONLY_ADMIN)
    add("ops/jobs/<a queued record>", "/ops/jobs/{job_id}", f"/ops/jobs/{targets.queued_record}", ONLY_ADMIN)
    add("ops/jobs/<a queued job, Redis only>", "/ops/jobs/{job_id}", f"/ops/jobs/{targets.queued_job}", ONLY_ADMIN)
    add("jobs/<a finished record>", "/jobs/{job_id}", f"/jobs/{complete_record}", ONLY_ADMIN)
    add("jobs/<a queued record>", "/jobs/{job_id}", f"/jobs/{targets.queued_record}", ONLY_ADMIN)
    history_reads(listed, add, n, ONLY_ADMIN)
    return found
