"""The SQL of the raw-asyncpg baselines (c) and (d)."""

POST_COLUMNS = "id, title, content, status, created_at, updated_at, author_id, category_id"
LOG_COLUMNS = "id, hero_id, from_team_id, to_team_id, transfer_date, logged_at"

# created_at/updated_at come from the columns' server default (now()).
INSERT_POST = f"""
INSERT INTO post (title, content, status, category_id, author_id)
VALUES ($1, $2, $3, $4, $5)
RETURNING {POST_COLUMNS}
"""

# (c) runs these three in one transaction, the classic way.
LOCK_HERO = "SELECT team_id FROM hero WHERE id = $1 FOR UPDATE"
MOVE_HERO = "UPDATE hero SET team_id = $2 WHERE id = $1"
INSERT_LOG = f"""
INSERT INTO transfer_log (hero_id, from_team_id, to_team_id, transfer_date, logged_at)
VALUES ($1, $2, $3, now(), now())
RETURNING {LOG_COLUMNS}
"""

# (d) does the same in one statement: lock and read the old team, move the hero, log the move.
# A transfer waiting on the lock sees the row as the previous transfer committed it
# (READ COMMITTED re-reads locked rows), so from_team_id is never stale. No row: unknown hero.
TRANSFER_CTE = f"""
WITH old AS (
    SELECT id, team_id FROM hero WHERE id = $1 FOR UPDATE
), moved AS (
    UPDATE hero SET team_id = $2 FROM old WHERE hero.id = old.id
    RETURNING hero.id, old.team_id AS from_team_id
)
INSERT INTO transfer_log (hero_id, from_team_id, to_team_id, transfer_date, logged_at)
SELECT id, from_team_id, $2, now(), now() FROM moved
RETURNING {LOG_COLUMNS}
"""

# The reads (c) serves, as Guildhall's shared.blog.queries writes them for an anonymous caller
# (SQLAlchemy's rendering, parameters and all): the author joined, the category outer-joined,
# the approved comments counted by a correlated subquery (served by ix_comment_post_id_state_created_at);
# $1 is 'approved', $2 'published'. The page fetches one post more than it serves, to tell
# whether a next page exists, ordered as the keyset does (ix_post_status_created_at serves it).
POST_READ = """
SELECT post.id, post.title, post.content, post.status, post.created_at, post.updated_at, post.author_id,
       post.category_id, user_account.username, category.name AS category_name,
       (SELECT count(*) FROM comment
        WHERE comment.post_id = post.id AND comment.moderation_state = $1::VARCHAR) AS approved_comment_count
FROM post JOIN user_account ON user_account.id = post.author_id
LEFT OUTER JOIN category ON category.id = post.category_id
WHERE post.status = $2::VARCHAR
"""
POST_BY_ID = POST_READ + "AND post.id = $3::INTEGER"
POST_PAGE = POST_READ + "ORDER BY post.created_at DESC, post.id DESC LIMIT $3::INTEGER"
