"""user_account: the operator role (read-only ops)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 13:00:00

The role column is VARCHAR with a CHECK (shared.models.base.one_of), so a new role is a new CHECK.
The old one is swapped for the wider one in one ALTER TABLE (no moment without a check), added NOT
VALID so that statement only takes its lock for a catalog change; every row already holds one of
the old roles, so the validation, in a transaction of its own, cannot fail.
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "ck_user_account_role_valid"


def _replace_check(roles: str) -> None:
    op.execute(
        f"ALTER TABLE user_account DROP CONSTRAINT {CONSTRAINT},"
        f" ADD CONSTRAINT {CONSTRAINT} CHECK (role IN ({roles})) NOT VALID"
    )
    with op.get_context().autocommit_block():
        op.execute(f"ALTER TABLE user_account VALIDATE CONSTRAINT {CONSTRAINT}")


def upgrade() -> None:
    """Upgrade schema."""
    _replace_check("'author', 'moderator', 'operator', 'admin'")


def downgrade() -> None:
    """Downgrade schema."""
    # The old CHECK has no operator: operators become authors (what they are outside ops), and their
    # tokens are revoked (token_generation moves on), as a role change through the API does.
    op.execute(
        "UPDATE user_account SET role = 'author', token_generation = token_generation + 1 WHERE role = 'operator'"
    )
    _replace_check("'author', 'moderator', 'admin'")
