"""The rest of a growth step (bench/growth_data.py grows users, categories, posts and comments): heroes
and what hangs off them, the tables of a tenth of the size, courses, and the jobs' tables."""

import asyncpg

from bench.growth_shape import (
    ADMIN,
    AUTHOR,
    BIG_COURSE,
    BIG_TEAMS,
    DEAD_LETTERS,
    MOVED_HERO,
    PENDING_OUTBOX,
    QUEUED_RECORDS,
    RUNNING_RECORDS,
    TIME_LINE,
)


async def heroes(connection: asyncpg.Connection, *, first: bool, lo: int, hi: int) -> None:
    if first:
        await connection.execute(
            f"""INSERT INTO team (id, name, headquarters)
               SELECT g, 'Big Team ' || g, 'Tower ' || g FROM generate_series(1, {BIG_TEAMS}) g"""
        )
    first_team: int = await connection.fetchval("SELECT coalesce(max(id), 0) + 1 FROM team")
    teams = max(1, round((hi - lo + 1) * 0.84 / 100))  # 84% of the new heroes, ~100 a team
    await connection.execute(
        """INSERT INTO team (id, name, headquarters)
           SELECT g, 'Team ' || g, 'Hall ' || g FROM generate_series($1::int, $2::int) g""",
        first_team,
        first_team + teams - 1,
    )
    # g % 50: 0-2 a big team (6%), 3-7 none (10%), else one of this step's teams.
    await connection.execute(
        f"""INSERT INTO hero (id, name, secret_identity, age, power_level, team_id)
           SELECT g, 'Hero ' || g, 'Identity ' || g, age,
                  CASE WHEN age < 18 THEN (g % 500) / 10.0 ELSE (g % 1000) / 10.0 END,
                  CASE WHEN g % 50 < 3 THEN 1 + g % {BIG_TEAMS} WHEN g % 50 < 8 THEN NULL ELSE $3 + g % $4 END
           FROM (SELECT g, 16 + (g * 7) % 65 AS age FROM generate_series($1::int, $2::int) g) AS h""",
        lo,
        hi,
        first_team,
        teams,
    )
    await connection.execute(
        """INSERT INTO item (name, hero_id)
           SELECT 'Item ' || k || ' of hero ' || g, g
           FROM generate_series($1::int, $2::int) g CROSS JOIN LATERAL generate_series(1, 1 + g % 3) k""",
        lo,
        hi,
    )
    all_teams: int = await connection.fetchval("SELECT max(id) FROM team")
    await connection.execute(
        f"""INSERT INTO transfer_log (id, hero_id, from_team_id, to_team_id, transfer_date, requested_by_id,
                                      idempotency_key, logged_at)
           SELECT g, CASE WHEN g % 20 = 0 THEN {MOVED_HERO} ELSE 1 + (g::bigint * 7919) % $2 END,
                  1 + floor($3 * random())::int, 1 + floor($3 * random())::int, {TIME_LINE}, {ADMIN},
                  CASE WHEN g % 2 = 0 THEN 'growth-key-' || g END, {TIME_LINE} + interval '30 ms'
           FROM generate_series($1::int, $2::int) g""",
        lo,
        hi,
        all_teams,
    )


async def tables_of_a_tenth(connection: asyncpg.Connection, lo: int, hi: int, users: int, categories: int) -> None:
    await connection.execute(
        """INSERT INTO product (id, name, price, category_id)
           SELECT g, 'Product ' || g, (g % 10000) / 100.0, 1 + floor($3 * random())::int
           FROM generate_series($1::int, $2::int) g""",
        lo,
        hi,
        categories,
    )
    times = "timestamptz '2025-06-01 00:00+00' + g * interval '150 seconds'"
    await connection.execute(
        f"""INSERT INTO article (id, title, content, author_id, status, created_at, updated_at)
           SELECT g, 'Article ' || g, 'Body of article ' || g || '.',
                  CASE WHEN g % 40 = 0 THEN {AUTHOR} ELSE 1 + floor($3 * random())::int END,
                  CASE WHEN g % 4 = 0 THEN 'draft' ELSE 'published' END, {times}, {times}
           FROM generate_series($1::int, $2::int) g""",
        lo,
        hi,
        users,
    )
    await connection.execute(
        f"""INSERT INTO image (id, filename, alt_text, author_id, created_at)
           SELECT g, 'image-' || g || '.png', 'Picture ' || g,
                  CASE WHEN g % 40 = 0 THEN {AUTHOR} ELSE 1 + floor($3 * random())::int END, {times}
           FROM generate_series($1::int, $2::int) g""",
        lo,
        hi,
        users,
    )
    # Two of 200 names each (6g + 5 is never 0 mod 200: they differ), and "popular" on 10%.
    for kind in ("article", "image"):
        await connection.execute(
            f"""INSERT INTO tag (name, taggable_type, taggable_id)
               SELECT name, '{kind}', g FROM generate_series($1::int, $2::int) g
               CROSS JOIN LATERAL (VALUES ('tag-' || (g * 7) % 200), ('tag-' || (g * 13 + 5) % 200),
                                          (CASE WHEN g % 10 = 0 THEN 'popular' END)) AS t (name)
               WHERE name IS NOT NULL""",
            lo,
            hi,
        )


async def courses(connection: asyncpg.Connection, lo_s: int, hi_s: int, lo_k: int, hi_k: int) -> None:
    await connection.execute(
        """INSERT INTO course (id, name, code)
           SELECT g, CASE g WHEN 1 THEN 'Open course' ELSE 'Course ' || g END, 'C' || g
           FROM generate_series($1::int, $2::int) g""",
        lo_k,
        hi_k,
    )
    await connection.execute(
        """INSERT INTO student (id, name, email)
           SELECT g, 'Student ' || g, 'student-' || g || '@example.com' FROM generate_series($1::int, $2::int) g""",
        lo_s,
        hi_s,
    )
    # Course 1 is the big open course, 2.. are classes. A step's students join the step's new
    # classes, so a class stays ~30 as the school grows (all classes if a step adds fewer than 7).
    first = max(lo_k, BIG_COURSE + 1)
    if hi_k - first + 1 < 7:
        first = BIG_COURSE + 1
    await connection.execute(
        f"""INSERT INTO enrollment (student_id, course_id, grade, semester, year)
           SELECT g, c, (ARRAY['A', 'B+', 'C', 'F', NULL])[1 + (g + c) % 5], 'fall', 2025
           FROM generate_series($1::int, $2::int) g
           CROSS JOIN LATERAL (SELECT $4 + (g + j * ($3 / 3 + 1)) % $3 AS c FROM generate_series(0, 2) j
                               UNION ALL SELECT {BIG_COURSE} WHERE g % 10 = 0) AS e""",
        lo_s,
        hi_s,
        hi_k - first + 1,
        first,
    )


async def jobs_and_outbox(connection: asyncpg.Connection, lo: int, hi: int, n: int) -> None:
    # Row g of n was written (29 days * (1 - g / n)) ago: the newest now, none past the job retention.
    age = "interval '29 days' * (1 - g::float8 / $3::float8)"
    # A tiny run (the test's) has fewer rows than the backlog: a tenth of them then.
    pending = min(PENDING_OUTBOX, max(2, (hi - lo + 1) // 10))
    unfinished = min(QUEUED_RECORDS + RUNNING_RECORDS, max(2, (hi - lo + 1) // 10))
    await connection.execute(
        f"""INSERT INTO outbox (id, topic, payload, created_at, processed_at)
           SELECT g, CASE WHEN g % 2 = 0 THEN 'transfer_audit' ELSE 'comment_moderation' END,
                  jsonb_build_object(CASE WHEN g % 2 = 0 THEN 'hero_id' ELSE 'comment_id' END, g),
                  now() - {age}, now() - {age} + interval '40 ms'
           FROM generate_series($1::int, $2::int) g""",
        lo,
        hi,
        float(n),
    )
    functions = ["bulk_update_heroes", "bulk_delete_heroes", "bulk_post_operation"]
    await connection.execute(
        f"""INSERT INTO job (id, function, queue, arguments, submitted_by, status, created_at, started_at,
                             finished_at, tries, result, error)
           SELECT md5(g::text), ($4::text[])[1 + g % 3], 'guildhall:bulk', jsonb_build_object('items', 100),
                  {ADMIN}, s, now() - {age}, now() - {age} + interval '1 second', now() - {age} + interval '5 seconds',
                  1, CASE s WHEN 'complete' THEN '{{"updated": 100, "missing_ids": []}}'::jsonb END,
                  CASE s WHEN 'failed' THEN '{{"type": "ConstraintViolation", "message": "a rule"}}'::jsonb END
           FROM (SELECT g, CASE WHEN g % 33 = 0 THEN 'failed' ELSE 'complete' END AS s
                 FROM generate_series($1::int, $2::int) g) AS j""",
        lo,
        hi,
        float(n),
        functions,
    )
    # The backlog stays the same few rows at every size: the newest ones, left waiting (10 minutes,
    # past the sweep delay); the earlier step's waiting rows are processed now.
    await connection.execute(
        "UPDATE outbox SET processed_at = created_at + interval '40 ms' WHERE processed_at IS NULL"
    )
    await connection.execute(
        """UPDATE outbox SET processed_at = NULL, created_at = now() - interval '10 minutes',
                             sweeps = CASE WHEN id > $1::bigint - $2::bigint THEN 30 ELSE 0 END
           WHERE id > $1::bigint - $3::bigint""",
        hi,
        min(DEAD_LETTERS, pending // 2),
        pending,
    )
    await connection.execute(
        "UPDATE job SET status = 'complete', started_at = created_at + interval '1 second',"
        " finished_at = created_at + interval '5 seconds' WHERE status IN ('queued', 'in_progress')"
    )
    await connection.execute(
        """UPDATE job SET status = CASE WHEN j.rank <= $2 THEN 'in_progress' ELSE 'queued' END,
                          created_at = now() - interval '10 minutes', finished_at = NULL, result = NULL, error = NULL,
                          started_at = CASE WHEN j.rank <= $2 THEN now() - interval '1 minute' END
           FROM (SELECT id, row_number() OVER (ORDER BY created_at DESC) AS rank FROM job
                 ORDER BY created_at DESC LIMIT $1) AS j
           WHERE job.id = j.id""",
        unfinished,
        min(RUNNING_RECORDS, unfinished // 2),
    )
