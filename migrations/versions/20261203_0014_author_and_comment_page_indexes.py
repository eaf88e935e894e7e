"""indexes for an author's posts in one status and for a post's comment pages

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 13:40:00

The growth benchmark (bench/growth.py) found an author's drafts 7-20x and a busy post's comment
pages 5-15x slower at 10^6 rows than at 10^4: each read every matching row and sorted them. The
indexes give each page in its own order. Built CONCURRENTLY (both tables are the largest), each
after dropping an invalid leftover of an interrupted build; the comment index they replace goes
last, once its successor (a prefix of which serves the same lookups) is there.
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_post_author_id_status_created_at", "post", ("author_id", "status", "created_at", "id")),
    ("ix_comment_post_id_state_created_at", "comment", ("post_id", "moderation_state", "created_at", "id")),
    ("ix_comment_post_id_created_at", "comment", ("post_id", "created_at", "id")),
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
        op.drop_index("ix_comment_post_id_state", table_name="comment", postgresql_concurrently=True)


def downgrade() -> None:
    """Downgrade schema."""
    op.create_index("ix_comment_post_id_state", "comment", ["post_id", "moderation_state"], unique=False)
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
