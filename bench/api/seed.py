"""The data every app works on, and putting it back between runs so each run starts alike.

Transfers never ask for the team a hero is already on (that is a 409 in Guildhall, and a
benchmark full of 409s measures nothing): each hero starts on a known team and every request
for it moves it one team further along a fixed rotation (see load.py and audit.py).
Heroes are reset to their starting teams before each transfer run.

The read workloads (GET /posts/{id}, GET /posts?limit=20) read posts by many authors, most in a
category, with comments in every moderation state; the posts runs empty the post table, so the
read posts are written again before each app's reads, the same ids and times every time (the
apps' answers can then be compared as they are).
"""

import asyncio
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench.api.options import Options

ADMIN_NAME = "benchadmin"
ADMIN_PASSWORD = "bench-admin-password"


@dataclass(frozen=True)
class Seeded:
    author_id: int  # the admin: Guildhall's token is theirs, the baselines write as them
    first_hero: int  # heroes first_hero .. first_hero + heroes - 1 are the transfer pool
    heroes: int
    first_team: int  # teams first_team .. first_team + teams - 1
    teams: int
    nested_team: int

    def team_after(self, index: int, moves: int) -> int:
        """The team of pool hero number `index` (0-based) after `moves` transfers."""
        return self.first_team + (index + moves) % self.teams


# The read posts' authors and categories, seeded once (emptying `post` leaves them).
READ_AUTHORS = 50
READ_CATEGORIES = 20
# Every read post's times count back from here, so each re-seeding writes the same rows.
READ_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ReadSeed:
    """Published read posts have the ids first_published .. first_published + published - 1."""

    first_published: int
    published: int


async def create_admin(env: dict[str, str]) -> None:
    """Through Guildhall's own `guildhall create-user` (its password hashing, its rules)."""
    guildhall = str(Path(sys.executable).with_name("guildhall"))
    argv = [guildhall, "create-user", ADMIN_NAME, f"{ADMIN_NAME}@example.com", "--role", "admin"]
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate(f"{ADMIN_PASSWORD}\n".encode())
    if process.returncode != 0:
        raise SystemExit(f"guildhall create-user failed: {output.decode(errors='replace')}")


async def _contiguous(connection: asyncpg.Connection, sql: str, *args: object) -> int:
    """Run an INSERT ... RETURNING id and check that the ids are consecutive (the load scripts
    address heroes and teams by offset); the first id."""
    ids: list[int] = sorted(row["id"] for row in await connection.fetch(sql, *args))
    if ids[-1] - ids[0] + 1 != len(ids):
        raise SystemExit(f"seeded ids are not consecutive: {ids[0]}..{ids[-1]} for {len(ids)} rows")
    return ids[0]


async def seed(connection: asyncpg.Connection, options: Options) -> Seeded:
    author_id = await connection.fetchval("SELECT id FROM user_account WHERE username = $1", ADMIN_NAME)
    first_team = await _contiguous(
        connection,
        "INSERT INTO team (name) SELECT 'bench team ' || g FROM generate_series(1, $1) g RETURNING id",
        options.teams,
    )
    # Ages and power levels vary (power with one decimal) so the nested read compares real floats.
    first_hero = await _contiguous(
        connection,
        """INSERT INTO hero (name, secret_identity, age, power_level, team_id)
           SELECT 'hero ' || g, 'identity ' || g, 20 + g % 60, (g % 1000) / 10.0, $2 + (g - 1) % $3
           FROM generate_series(1, $1) g RETURNING id""",
        options.heroes,
        first_team,
        options.teams,
    )
    nested_team = await connection.fetchval(
        "INSERT INTO team (name, headquarters) VALUES ('nested team', 'Bench Tower') RETURNING id"
    )
    await connection.execute(
        """INSERT INTO hero (name, secret_identity, age, power_level, team_id)
           SELECT 'nested hero ' || g, 'nested identity ' || g, 18 + g % 70, (g % 997) / 10.0, $2
           FROM generate_series(1, $1) g""",
        options.nested_heroes,
        nested_team,
    )
    await connection.execute(
        """INSERT INTO item (name, hero_id)
           SELECT 'item ' || k || ' of hero ' || h.id, h.id FROM hero h CROSS JOIN generate_series(1, $2) k
           WHERE h.team_id = $1""",
        nested_team,
        options.items_per_hero,
    )
    await connection.execute(
        """INSERT INTO user_account (username, email, hashed_password, role)
           SELECT 'reader' || g, 'reader' || g || '@example.com', 'not-a-hash: never signs in', 'author'
           FROM generate_series(1, $1) g""",
        READ_AUTHORS,
    )
    await connection.execute(
        "INSERT INTO category (name) SELECT 'bench category ' || g FROM generate_series(1, $1) g", READ_CATEGORIES
    )
    await connection.execute("ANALYZE")
    return Seeded(author_id, first_hero, options.heroes, first_team, options.teams, nested_team)


async def reset_transfers(connection: asyncpg.Connection, seeded: Seeded) -> None:
    """Pool heroes back on their starting teams, audit tables emptied, dead rows vacuumed: each
    transfer run starts from the same state whichever app ran before."""
    await connection.execute(
        """UPDATE hero SET team_id = $1 + (id - $2) % $3
           WHERE id BETWEEN $2 AND $2 + $4 - 1 AND team_id IS DISTINCT FROM $1 + (id - $2) % $3""",
        seeded.first_team,
        seeded.first_hero,
        seeded.teams,
        seeded.heroes,
    )
    await connection.execute("TRUNCATE transfer_log, outbox")
    await connection.execute("VACUUM (ANALYZE) hero")


async def reset_posts(connection: asyncpg.Connection) -> None:
    """Every posts run starts on an empty table (and an empty trigram index): a table grown by
    the apps that ran before would tax whoever runs last."""
    await connection.execute("TRUNCATE post CASCADE")


async def reset_reads(connection: asyncpg.Connection, posts: int) -> ReadSeed:
    """The read posts, written anew with the same ids: 9 in 10 published (ids first), the drafts
    between them in time (so the anonymous page's status filter has rows to skip); 4 in 5 in a
    category; 0 to 3 comments per published post, approved, pending or rejected in turn."""
    await connection.execute("TRUNCATE post RESTART IDENTITY CASCADE")
    authors = "(SELECT min(id) FROM user_account WHERE username LIKE 'reader%')"
    categories = "(SELECT min(id) FROM category WHERE name LIKE 'bench category %')"
    published = posts - posts // 10
    columns = "title, content, status, created_at, updated_at, author_id, category_id"
    rows = f"""SELECT 'Read post ' || g, 'Seeded by bench.api: ' || repeat('lorem ipsum dolor sit amet ', 8),
                      $2, $3::timestamptz - make_interval(secs => g * $4),
                      $3::timestamptz - make_interval(secs => g * $4),
                      {authors} + g % {READ_AUTHORS},
                      CASE WHEN g % 5 = 0 THEN NULL ELSE {categories} + g % {READ_CATEGORIES} END
               FROM generate_series(1, $1) g"""
    first = await _contiguous(
        connection, f"INSERT INTO post ({columns}) {rows} RETURNING id", published, "published", READ_EPOCH, 10
    )
    await connection.execute(f"INSERT INTO post ({columns}) {rows}", posts - published, "draft", READ_EPOCH, 95)
    await connection.execute(
        f"""INSERT INTO comment (content, post_id, author_id, moderation_state, moderated_at)
            SELECT 'comment ' || k || ' on post ' || p.id, p.id, {authors} + k,
                   (ARRAY['approved', 'pending', 'rejected'])[1 + (p.id + k) % 3],
                   CASE WHEN (p.id + k) % 3 = 1 THEN NULL ELSE $1::timestamptz END
            FROM post p CROSS JOIN generate_series(1, 3) k
            WHERE p.status = 'published' AND k <= p.id % 4""",
        READ_EPOCH,
    )
    await connection.execute("ANALYZE post, comment")
    return ReadSeed(first, published)


async def outbox_backlog(connection: asyncpg.Connection) -> int:
    count: int = await connection.fetchval("SELECT count(*) FROM outbox WHERE processed_at IS NULL")
    return count


async def wait_for_outbox(connection: asyncpg.Connection, limit: float) -> tuple[int, float]:
    """Wait until the worker has processed every outbox row (at most `limit` s); the rows
    left and the seconds waited. Polling: the worker's progress is only visible in the table."""
    start = time.monotonic()
    left = await outbox_backlog(connection)
    while left and time.monotonic() - start < limit:
        await asyncio.sleep(0.1)
        left = await outbox_backlog(connection)
    return left, time.monotonic() - start
