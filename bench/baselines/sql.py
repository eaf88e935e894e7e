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
