"""indexes that give more pages in their own order: a team's heroes, a hero's transfers, articles, images

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 13:45:00

From the growth benchmark (bench/growth.py), each 2-4x slower at 10^6 rows than at 10^4:
- hero (team_id, id) replaces (team_id): a team's heroes by id (a big team's page, the nested
  read, /teams/top, ?team=) came from the team index unordered and were sorted;
- transfer_log (hero_id, transfer_date, id) replaces (hero_id, transfer_date): ties on the date
  were sorted;
- article (created_at, id) and image (created_at, id): the lists of everyone's articles (admins,
  authors) and of images had no index in their order.
Built CONCURRENTLY (after dropping an invalid leftover of an interrupted build), the replaced
indexes dropped last.
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_hero_team_id_id", "hero", ("team_id", "id")),
    ("ix_transfer_log_hero_id_transfer_date_id", "transfer_log", ("hero_id", "transfer_date", "id")),
    ("ix_article_created_at_id", "article", ("created_at", "id")),
    ("ix_image_created_at_id", "image", ("created_at", "id")),
)
REPLACED = (
    ("ix_hero_team_id", "hero", ("team_id",)),
    ("ix_transfer_log_hero_id_transfer_date", "transfer_log", ("hero_id", "transfer_date")),
)


def _drop_invalid_index(name: str) -> None:
    op.execute(
        f"""DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                   WHERE c.relname = '{name}' AND NOT i.indisvalid) THEN
            EXECUTE 'DROP INDEX {name}';
        END IF; END $$"""
    )


def upgrade() -> None:
    """Upgrade schema."""
    with op.get_context().autocommit_block():
        for name, table, columns in INDEXES:
            _drop_invalid_index(name)
            op.create_index(name, table, list(columns), postgresql_concurrently=True, if_not_exists=True)
        for name, table, _ in REPLACED:
            op.drop_index(name, table_name=table, postgresql_concurrently=True)


def downgrade() -> None:
    """Downgrade schema."""
    for name, table, columns in REPLACED:
        op.create_index(name, table, list(columns), unique=False)
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
