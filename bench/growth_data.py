"""The growth benchmark's data, grown in steps (10^4, then up to 10^5, then 10^6 rows of each big
table), each step one set-based INSERT ... SELECT generate_series per table, then VACUUM ANALYZE.

The shape is what a service that has run for a while holds, not a uniform grid:
- posts: 70% published, 20% drafts, 10% archived; authors skewed (random()^2 over many users, and
  the signed-in author of the benchmark writes 2.5% of all posts, so their share grows); 80% in a
  category; two title words of 100 (each word in ~2% of titles) and a rare one (~1 in 100,000);
- comments: 5% on one hot post (published, so it grows), the rest skewed towards older posts;
  85% approved, 10% pending, 5% rejected (a decided comment has its moderated_at: the CHECK);
- categories: a chain of 10 (depth >= 10 at every size) and 5 more roots, every later category under
  a random earlier one (a random recursive tree: depth grows like log n);
- heroes: teams of ~100 at every size (each step makes new teams for its heroes), 3 big teams that
  take 6% of all heroes (they grow), 10% teamless; young heroes within the power rule (the CHECKs);
  1-3 items each; transfer logs: 5% for one much-moved hero, the rest spread;
- outbox rows and job records over the last 29 days (finished job records are kept 30 days, so none
  is due for pruning), all processed or finished but a constant few: the backlog does not grow;
- articles, images (2 tags each, 10% also "popular"), students (3 courses each, and 10% of them in
  one big open course that grows), products: a tenth of the big tables.
Ids are written explicitly (1..n for every table), so ids and positions are known without a query;
the sequences are moved past them after each step.
"""

import asyncpg

from bench import growth_data_more as more
from bench import growth_history
from bench.growth_shape import AUTHOR, HOT_POST, RARE_WORD, ROOTS, SPINE, TIME_LINE, USERNAMES, WORDS, Scale, spans


async def grow(connection: asyncpg.Connection, before: Scale | None, after: Scale, password_hash: str) -> None:
    """Add the rows that take the database from `before` (None: empty) to `after`."""
    step = spans(before, after)
    lo_u, hi_u = step["users"]
    lo_c, hi_c = step["categories"]
    lo_t, hi_t = step["tenth"]
    lo_s, hi_s = step["students"]
    lo_k, hi_k = step["courses"]
    lo, hi = step["big"]
    async with connection.transaction():
        await connection.execute(
            """INSERT INTO user_account (id, username, email, hashed_password, role)
               SELECT g, coalesce(($4::text[])[g], 'user_' || g), 'user_' || g || '@example.com', $3,
                      CASE g WHEN 1 THEN 'admin' WHEN 2 THEN 'moderator' ELSE 'author' END
               FROM generate_series($1::int, $2::int) g""",
            lo_u,
            hi_u,
            password_hash,
            [USERNAMES[i] for i in sorted(USERNAMES)],
        )
        await connection.execute(
            """INSERT INTO category (id, name, description, parent_id)
               SELECT g, 'Category ' || g, 'About category ' || g,
                      CASE WHEN g = 1 OR g BETWEEN $3 + 1 AND $3 + $4 THEN NULL
                           WHEN g <= $3 THEN g - 1
                           ELSE 1 + floor(random() * (g - 1))::int END
               FROM generate_series($1::int, $2::int) g""",
            lo_c,
            hi_c,
            SPINE,
            ROOTS,
        )
        users, categories = after.users, after.categories
        await connection.execute(
            f"""INSERT INTO post (id, title, content, status, created_at, updated_at, author_id, category_id)
               SELECT g, 'Post ' || g || ' on ' || ($3::text[])[1 + (g::bigint * 7919) % 100] || ' and '
                         || ($3::text[])[1 + (g::bigint * 104729) % 100]
                         || CASE WHEN g % 100000 = 7 THEN ' {RARE_WORD}' ELSE '' END,
                      'Text of post ' || g || '. ' || repeat('Lorem ipsum dolor sit amet. ', 4),
                      CASE WHEN g % 10 < 7 THEN 'published' WHEN g % 10 < 9 THEN 'draft' ELSE 'archived' END,
                      {TIME_LINE}, {TIME_LINE},
                      CASE WHEN g % 40 = 0 THEN {AUTHOR} ELSE 4 + floor(($4 - 3) * random() ^ 2)::int END,
                      CASE WHEN g % 5 = 0 THEN NULL ELSE 1 + floor($5 * random())::int END
               FROM generate_series($1::int, $2::int) g""",
            lo,
            hi,
            WORDS,
            users,
            categories,
        )
        await connection.execute(
            f"""INSERT INTO comment (id, content, created_at, post_id, author_id, moderation_state,
                                     moderation_reason, moderated_at)
               SELECT g, 'Comment ' || g || ': a thought or two about the post.', t, p, a, s,
                      CASE s WHEN 'rejected' THEN 'a banned word' END,
                      CASE WHEN s <> 'pending' THEN t + interval '1 minute' END
               FROM (SELECT g, {TIME_LINE} + interval '5 seconds' AS t,
                            CASE WHEN g % 20 = 0 THEN {HOT_POST} ELSE 1 + floor($2 * random() ^ 2)::int END AS p,
                            1 + floor($3 * random())::int AS a,
                            CASE WHEN (g * 37) % 20 < 17 THEN 'approved'
                                 WHEN (g * 37) % 20 < 19 THEN 'pending' ELSE 'rejected' END AS s
                     FROM generate_series($1::int, $2::int) g) AS c""",
            lo,
            hi,
            users,
        )
        await more.heroes(connection, first=before is None, lo=lo, hi=hi)
        await more.tables_of_a_tenth(connection, lo_t, hi_t, users, categories)
        await more.courses(connection, lo_s, hi_s, lo_k, hi_k)
        await more.jobs_and_outbox(connection, lo, hi, after.n)
        await growth_history.seed(connection, lo, hi, after.n)
        for table in ("user_account", "category", "post", "comment", "team", "hero", "item", "transfer_log"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        for table in ("product", "article", "image", "tag", "student", "course", "outbox"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
    # Outside the transaction (VACUUM cannot run in one): the visibility map and the statistics a
    # database that autovacuum looks after would have, so no read pays for the seeding's hint bits.
    await connection.execute("VACUUM (ANALYZE)")
