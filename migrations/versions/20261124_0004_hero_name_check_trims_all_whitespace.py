"""hero name check trims all whitespace, as the pydantic validator does

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 01:58:00

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# op.f(): the name is final; the naming convention would otherwise prefix it again.
CONSTRAINT = "ck_hero_name_not_secret"


def upgrade() -> None:
    # btrim() takes spaces only: "secret" wrapped in tabs or newlines passed the database.
    op.drop_constraint(op.f(CONSTRAINT), "hero", type_="check")
    op.create_check_constraint(
        op.f(CONSTRAINT), "hero", r"lower(regexp_replace(name, '^\s+|\s+$', '', 'g')) <> 'secret'"
    )


def downgrade() -> None:
    op.drop_constraint(op.f(CONSTRAINT), "hero", type_="check")
    op.create_check_constraint(op.f(CONSTRAINT), "hero", "lower(btrim(name)) <> 'secret'")
