"""growth: the post list's own index, team statistics and category paths kept by triggers

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:00:00

- ix_post_created_at_id serves the post list without a status filter (admins, authors). It is
  built CONCURRENTLY, outside the migration's transaction: a plain CREATE INDEX would block every
  post write for the length of the build on a large table.
- team_stats holds each team's hero count and age sum, kept by statement-level triggers that
  append deltas to team_stats_delta, which a cron folds in (shared.models.heroes.TeamStats says
  why). The backfill runs under a SHARE lock on hero, taken
  before the triggers exist, so no hero write can fall between the backfill and the first trigger.
- category.path is each category's place in the tree (shared.models.catalog.Category says why),
  kept by row triggers: an insert takes its parent's path; a rename or move rewrites its own and
  its subtree's. Inserts take a shared advisory lock and renames and moves the exclusive one (the
  key tree moves already take, shared.catalog.queries.CATEGORY_MOVE_LOCK): a category created
  under a subtree being renamed waits for it, so no path is left with an old prefix.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One function for the three hero triggers (transition tables allow one event per trigger). Each
# statement's rows are summed into one delta per team it changed (arrays, not a temporary table:
# that would write the catalogs in every transaction), appended to team_stats_delta.
HERO_TRIGGER_FUNCTION = """
CREATE FUNCTION team_stats_follow_heroes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    team_ids integer[];
    hero_deltas bigint[];
    age_deltas bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(team_id ORDER BY team_id), array_agg(heroes ORDER BY team_id),
               array_agg(ages ORDER BY team_id)
            INTO team_ids, hero_deltas, age_deltas
            FROM (SELECT team_id, count(*) AS heroes, sum(age) AS ages FROM new_heroes
                  WHERE team_id IS NOT NULL GROUP BY team_id) AS d;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(team_id ORDER BY team_id), array_agg(heroes ORDER BY team_id),
               array_agg(ages ORDER BY team_id)
            INTO team_ids, hero_deltas, age_deltas
            FROM (SELECT team_id, -count(*) AS heroes, -sum(age) AS ages FROM old_heroes
                  WHERE team_id IS NOT NULL GROUP BY team_id) AS d;
    ELSE
        SELECT array_agg(team_id ORDER BY team_id), array_agg(heroes ORDER BY team_id),
               array_agg(ages ORDER BY team_id)
            INTO team_ids, hero_deltas, age_deltas
            FROM (SELECT team_id, sum(heroes) AS heroes, sum(ages) AS ages FROM (
                      SELECT team_id, 1 AS heroes, age AS ages FROM new_heroes WHERE team_id IS NOT NULL
                      UNION ALL
                      SELECT team_id, -1, -age FROM old_heroes WHERE team_id IS NOT NULL
                  ) AS changes GROUP BY team_id HAVING sum(heroes) <> 0 OR sum(ages) <> 0) AS d;
    END IF;
    IF team_ids IS NULL THEN  -- no hero of any team changed team or age
        RETURN NULL;
    END IF;
    -- Appended, never updated: writers to the same team do not queue on a row lock (a stats row
    -- updated here was held to COMMIT: 5 to 9 times fewer transfers/s between 10 teams).
    -- team_stats_fold() adds the deltas into team_stats; reads add the ones not folded yet.
    INSERT INTO team_stats_delta (team_id, heroes, ages)
        SELECT * FROM unnest(team_ids, hero_deltas, age_deltas);
    RETURN NULL;
END
$$
"""

# A new team starts at zero; TRUNCATE hero (without its teams) sets every team back to zero.
TEAM_TRIGGER_FUNCTION = """
CREATE FUNCTION team_stats_follow_teams() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO team_stats (team_id) SELECT id FROM new_teams;
    RETURN NULL;
END
$$
"""
TRUNCATE_TRIGGER_FUNCTION = """
CREATE FUNCTION team_stats_after_hero_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM team_stats_delta;
    UPDATE team_stats SET hero_count = 0, age_sum = 0 WHERE hero_count <> 0 OR age_sum <> 0;
    RETURN NULL;
END
$$
"""
# Add up to `batch` deltas, oldest first, into team_stats and delete them, in one statement: a read
# (base + the deltas left) sees the same sum before and after. One fold at a time (the advisory
# lock): only folds update team_stats rows, so folds never deadlock with writers or each other.
FOLD_FUNCTION = """
CREATE FUNCTION team_stats_fold(batch integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    folded integer;
BEGIN
    PERFORM pg_advisory_xact_lock(1952804980);  -- 'team' + 'stat', any fixed key of its own
    WITH taken AS (
        DELETE FROM team_stats_delta WHERE id = ANY (ARRAY(
            SELECT id FROM team_stats_delta ORDER BY id LIMIT batch))
        RETURNING team_id, heroes, ages
    ), summed AS (
        SELECT team_id, sum(heroes) AS heroes, sum(ages) AS ages, count(*) AS deltas FROM taken GROUP BY team_id
    ), applied AS (
        UPDATE team_stats AS s SET hero_count = s.hero_count + summed.heroes, age_sum = s.age_sum + summed.ages
        FROM summed WHERE s.team_id = summed.team_id
    )
    SELECT coalesce(sum(deltas), 0) INTO folded FROM summed;
    RETURN folded;
END
$$
"""
CATEGORY_MOVE_LOCK = 0x6361_7465  # shared.catalog.queries.CATEGORY_MOVE_LOCK (migrations stay frozen)
CATEGORY_FUNCTIONS = (
    # One step of a path: what siblings sort by, then the id (10 digits: any int4) to make it unique.
    """CREATE FUNCTION category_path_step(name text, id integer) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN name || chr(1) || lpad(id::text, 10, '0')""",
    # The first path after a subtree: its root's last step with one more byte 0x01 (every
    # descendant's step there is the root's own, followed by more steps; names hold no NUL).
    """CREATE FUNCTION category_subtree_end(path text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN trim_array(path, 1) || (path[cardinality(path)] || chr(1))""",
    f"""CREATE FUNCTION category_path_before_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_advisory_xact_lock_shared({CATEGORY_MOVE_LOCK});
    ELSE
        PERFORM pg_advisory_xact_lock({CATEGORY_MOVE_LOCK});
    END IF;
    NEW.path := coalesce((SELECT path FROM category WHERE id = NEW.parent_id), '{{}}')
        || category_path_step(NEW.name, NEW.id);
    RETURN NEW;
END
$$""",
    """CREATE FUNCTION category_path_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE category SET path = NEW.path || path[cardinality(OLD.path) + 1:]
        WHERE path > OLD.path AND path < category_subtree_end(OLD.path);
    RETURN NULL;
END
$$""",
)
CATEGORY_TRIGGERS = (
    "CREATE TRIGGER category_path_before_write BEFORE INSERT OR UPDATE OF name, parent_id ON category"
    " FOR EACH ROW EXECUTE FUNCTION category_path_before_write()",
    "CREATE TRIGGER category_path_after_update AFTER UPDATE OF name, parent_id ON category"
    " FOR EACH ROW WHEN (OLD.path IS DISTINCT FROM NEW.path) EXECUTE FUNCTION category_path_after_update()",
)
TRIGGERS = (
    "CREATE TRIGGER team_stats_after_team_insert AFTER INSERT ON team REFERENCING NEW TABLE AS new_teams"
    " FOR EACH STATEMENT EXECUTE FUNCTION team_stats_follow_teams()",
    "CREATE TRIGGER team_stats_after_hero_insert AFTER INSERT ON hero REFERENCING NEW TABLE AS new_heroes"
    " FOR EACH STATEMENT EXECUTE FUNCTION team_stats_follow_heroes()",
    "CREATE TRIGGER team_stats_after_hero_update AFTER UPDATE ON hero"
    " REFERENCING OLD TABLE AS old_heroes NEW TABLE AS new_heroes"
    " FOR EACH STATEMENT EXECUTE FUNCTION team_stats_follow_heroes()",
    "CREATE TRIGGER team_stats_after_hero_delete AFTER DELETE ON hero REFERENCING OLD TABLE AS old_heroes"
    " FOR EACH STATEMENT EXECUTE FUNCTION team_stats_follow_heroes()",
    "CREATE TRIGGER team_stats_after_hero_truncate AFTER TRUNCATE ON hero"
    " FOR EACH STATEMENT EXECUTE FUNCTION team_stats_after_hero_truncate()",
)
FUNCTIONS = (
    "team_stats_fold(integer)",
    "team_stats_follow_heroes()",
    "team_stats_follow_teams()",
    "team_stats_after_hero_truncate()",
    "category_path_after_update()",
    "category_path_before_write()",
    "category_subtree_end(text[])",
    "category_path_step(text, integer)",
)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "team_stats",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("hero_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("age_sum", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("hero_count >= 0", name=op.f("ck_team_stats_hero_count_not_negative")),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_team_stats_team_id_team"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_team_stats")),
    )
    op.create_table(
        "team_stats_delta",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("heroes", sa.Integer(), nullable=False),
        sa.Column("ages", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_stats_delta")),
    )
    op.create_index("ix_team_stats_delta_team_id", "team_stats_delta", ["team_id"], unique=False)
    op.create_index(
        "ix_team_stats_average_age",
        "team_stats",
        [sa.text("(age_sum::numeric / hero_count) DESC"), "team_id"],
        unique=False,
        postgresql_where=sa.text("hero_count > 0"),
    )
    # Writers wait (readers do not) from here to COMMIT: the backfill and the triggers see the same heroes.
    op.execute("LOCK TABLE team, hero IN SHARE MODE")
    op.execute(
        "INSERT INTO team_stats (team_id, hero_count, age_sum)"
        " SELECT team.id, count(hero.id), coalesce(sum(hero.age), 0)"
        " FROM team LEFT JOIN hero ON hero.team_id = team.id GROUP BY team.id"
    )
    for function in (HERO_TRIGGER_FUNCTION, TEAM_TRIGGER_FUNCTION, TRUNCATE_TRIGGER_FUNCTION, FOLD_FUNCTION):
        op.execute(function)
    for trigger in TRIGGERS:
        op.execute(trigger)
    _category_paths()
    with op.get_context().autocommit_block():
        _drop_invalid_index("ix_post_created_at_id")
        op.create_index(
            "ix_post_created_at_id", "post", ["created_at", "id"], postgresql_concurrently=True, if_not_exists=True
        )


def _category_paths() -> None:
    op.execute("LOCK TABLE category IN SHARE MODE")  # writers wait to COMMIT: every path is backfilled
    op.add_column("category", sa.Column("path", postgresql.ARRAY(sa.Text(collation="C")), nullable=True))
    for function in CATEGORY_FUNCTIONS:
        op.execute(function)
    op.execute(
        """WITH RECURSIVE tree (id, path) AS (
            SELECT id, ARRAY[category_path_step(name, id)] FROM category WHERE parent_id IS NULL
            UNION ALL
            SELECT child.id, tree.path || category_path_step(child.name, child.id)
            FROM category AS child JOIN tree ON child.parent_id = tree.id
        )
        UPDATE category SET path = tree.path FROM tree WHERE category.id = tree.id"""
    )
    op.alter_column("category", "path", nullable=False)
    for trigger in CATEGORY_TRIGGERS:
        op.execute(trigger)
    op.create_index("ix_category_path", "category", ["path"], unique=False)


def _drop_invalid_index(name: str) -> None:
    """An earlier CREATE INDEX CONCURRENTLY that was interrupted leaves an INVALID index of that
    name, which IF NOT EXISTS would keep: drop it, so a rerun builds it whole."""
    op.execute(
        f"""DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                   WHERE c.relname = '{name}' AND NOT i.indisvalid) THEN
            EXECUTE 'DROP INDEX {name}';
        END IF; END $$"""
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_post_created_at_id", table_name="post")
    op.drop_index("ix_category_path", table_name="category")
    for trigger in (*TRIGGERS, *CATEGORY_TRIGGERS):
        name, table = trigger.split()[2], trigger.split(" ON ")[1].split()[0]
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.drop_column("category", "path")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
    op.drop_index("ix_team_stats_average_age", table_name="team_stats", postgresql_where=sa.text("hero_count > 0"))
    op.drop_table("team_stats")
    op.drop_index("ix_team_stats_delta_team_id", table_name="team_stats_delta")
    op.drop_table("team_stats_delta")
