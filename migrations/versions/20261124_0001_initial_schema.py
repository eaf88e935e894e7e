"""initial schema: every table of the reference, pg_trgm, and the tag integrity triggers

Revision ID: 0001
Revises:
Create Date: 2026-11-24 00:44:11.596825

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A generic foreign key (tag.taggable_type, tag.taggable_id) has no referential
# integrity of its own; these triggers give it the two halves of a real FK.
# One statement per string: asyncpg prepares each, and a prepared statement holds one.
TAG_TRIGGERS_UP: tuple[str, ...] = (
    """
CREATE FUNCTION tag_item_must_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- FOR KEY SHARE locks the item like a real FK check does, so a concurrent
    -- DELETE of it waits for this transaction and then removes this tag too.
    IF NEW.taggable_type = 'article' THEN
        PERFORM 1 FROM article WHERE id = NEW.taggable_id FOR KEY SHARE;
    ELSIF NEW.taggable_type = 'image' THEN
        PERFORM 1 FROM image WHERE id = NEW.taggable_id FOR KEY SHARE;
    ELSE
        RETURN NEW;  -- unknown type: ck_tag_taggable_type_valid refuses it
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tag "%" points at % %, which does not exist',
            NEW.name, NEW.taggable_type, NEW.taggable_id
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'fk_tag_taggable', TABLE = 'tag';
    END IF;
    RETURN NEW;
END $$
""",
    """

CREATE TRIGGER tag_item_must_exist
    BEFORE INSERT OR UPDATE OF taggable_type, taggable_id ON tag
    FOR EACH ROW EXECUTE FUNCTION tag_item_must_exist()
""",
    """

-- One statement per deleting statement (transition table), not one per row.
CREATE FUNCTION delete_tags_of_deleted_items() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tag USING deleted_items
    WHERE tag.taggable_type = TG_ARGV[0] AND tag.taggable_id = deleted_items.id;
    RETURN NULL;
END $$
""",
    """

CREATE FUNCTION delete_tags_of_truncated_items() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tag WHERE taggable_type = TG_ARGV[0];
    RETURN NULL;
END $$
""",
    """

CREATE TRIGGER article_delete_tags AFTER DELETE ON article
    REFERENCING OLD TABLE AS deleted_items
    FOR EACH STATEMENT EXECUTE FUNCTION delete_tags_of_deleted_items('article')
""",
    """
CREATE TRIGGER image_delete_tags AFTER DELETE ON image
    REFERENCING OLD TABLE AS deleted_items
    FOR EACH STATEMENT EXECUTE FUNCTION delete_tags_of_deleted_items('image')
""",
    """
CREATE TRIGGER article_truncate_tags AFTER TRUNCATE ON article
    FOR EACH STATEMENT EXECUTE FUNCTION delete_tags_of_truncated_items('article')
""",
    """
CREATE TRIGGER image_truncate_tags AFTER TRUNCATE ON image
    FOR EACH STATEMENT EXECUTE FUNCTION delete_tags_of_truncated_items('image')
""",
)


TAG_TRIGGERS_DOWN: tuple[str, ...] = (
    """
DROP TRIGGER IF EXISTS image_truncate_tags ON image
""",
    """
DROP TRIGGER IF EXISTS article_truncate_tags ON article
""",
    """
DROP TRIGGER IF EXISTS image_delete_tags ON image
""",
    """
DROP TRIGGER IF EXISTS article_delete_tags ON article
""",
    """
DROP TRIGGER IF EXISTS tag_item_must_exist ON tag
""",
    """
DROP FUNCTION IF EXISTS delete_tags_of_truncated_items()
""",
    """
DROP FUNCTION IF EXISTS delete_tags_of_deleted_items()
""",
    """
DROP FUNCTION IF EXISTS tag_item_must_exist()
""",
)


def upgrade() -> None:
    """Upgrade schema."""
    # The trigram operator classes of the title search indexes live in pg_trgm.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 100", name=op.f("ck_category_name_length")),
        sa.CheckConstraint("parent_id IS NULL OR parent_id <> id", name=op.f("ck_category_not_own_parent")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["category.id"], name=op.f("fk_category_parent_id_category"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category")),
        sa.UniqueConstraint(
            "parent_id", "name", name=op.f("uq_category_parent_id_name"), postgresql_nulls_not_distinct=True
        ),
    )
    op.create_index(op.f("ix_category_parent_id"), "category", ["parent_id"], unique=False)
    op.create_table(
        "course",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course")),
        sa.UniqueConstraint("code", name=op.f("uq_course_code")),
    )
    op.create_table(
        "student",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_student")),
    )
    op.create_index("uq_student_email_lower", "student", [sa.literal_column("lower(email)")], unique=True)
    op.create_table(
        "tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("taggable_type", sa.String(length=20), nullable=False),
        sa.Column("taggable_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("taggable_type IN ('article', 'image')", name=op.f("ck_tag_taggable_type_valid")),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 50", name=op.f("ck_tag_name_length")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tag")),
        sa.UniqueConstraint("taggable_type", "taggable_id", "name", name=op.f("uq_tag_taggable_type_taggable_id_name")),
    )
    op.create_index("ix_tag_name", "tag", ["name"], unique=False)
    op.create_table(
        "team",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("headquarters", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team")),
        sa.UniqueConstraint("name", name=op.f("uq_team_name")),
    )
    op.create_table(
        "transfer_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hero_id", sa.Integer(), nullable=False),
        sa.Column("from_team_id", sa.Integer(), nullable=True),
        sa.Column("to_team_id", sa.Integer(), nullable=True),
        sa.Column("transfer_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("logged_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_log")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_transfer_log_idempotency_key")),
    )
    op.create_index("ix_transfer_log_hero_id_transfer_date", "transfer_log", ["hero_id", "transfer_date"], unique=False)
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("hashed_password", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=20), server_default="author", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("role IN ('author', 'moderator', 'admin')", name=op.f("ck_user_account_role_valid")),
        sa.CheckConstraint("char_length(username) BETWEEN 3 AND 50", name=op.f("ck_user_account_username_length")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("username", name=op.f("uq_user_account_username")),
    )
    op.create_index("uq_user_account_email_lower", "user_account", [sa.literal_column("lower(email)")], unique=True)
    op.create_table(
        "article",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="draft", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('draft', 'published')", name=op.f("ck_article_status_valid")),
        sa.CheckConstraint("char_length(title) BETWEEN 1 AND 200", name=op.f("ck_article_title_length")),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_article_author_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article")),
    )
    op.create_index("ix_article_author_id_created_at", "article", ["author_id", "created_at"], unique=False)
    op.create_index(
        "ix_article_published_created_at",
        "article",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status = 'published'"),
    )
    op.create_index(
        "ix_article_title_trgm",
        "article",
        ["title"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
    op.create_table(
        "enrollment",
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("enrollment_date", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("grade", sa.String(length=2), nullable=True),
        sa.Column("semester", sa.String(length=10), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.CheckConstraint("grade ~ '^([A-D][+-]?|F)$'", name=op.f("ck_enrollment_grade_valid")),
        sa.CheckConstraint(
            "semester IN ('spring', 'summer', 'fall', 'winter')", name=op.f("ck_enrollment_semester_valid")
        ),
        sa.CheckConstraint("year BETWEEN 1900 AND 2200", name=op.f("ck_enrollment_year_valid")),
        sa.ForeignKeyConstraint(
            ["course_id"], ["course.id"], name=op.f("fk_enrollment_course_id_course"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["student.id"], name=op.f("fk_enrollment_student_id_student"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("student_id", "course_id", name=op.f("pk_enrollment")),
    )
    op.create_index(op.f("ix_enrollment_course_id"), "enrollment", ["course_id"], unique=False)
    op.create_table(
        "hero",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("secret_identity", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("age", sa.Integer(), nullable=False),
        sa.Column("power_level", sa.Float(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("lower(btrim(name)) <> 'secret'", name=op.f("ck_hero_name_not_secret")),
        sa.CheckConstraint("age > 0", name=op.f("ck_hero_positive_age")),
        sa.CheckConstraint("age >= 18 OR power_level <= 50", name=op.f("ck_hero_young_hero_power")),
        sa.CheckConstraint("power_level >= 0 AND power_level <= 100", name=op.f("ck_hero_valid_power_level")),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_hero_team_id_team"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hero")),
        sa.UniqueConstraint("name", "secret_identity", name=op.f("uq_hero_name_secret_identity")),
    )
    op.create_index(op.f("ix_hero_team_id"), "hero", ["team_id"], unique=False)
    op.create_table(
        "image",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("alt_text", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("char_length(filename) BETWEEN 1 AND 255", name=op.f("ck_image_filename_length")),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_image_author_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image")),
    )
    op.create_index(op.f("ix_image_author_id"), "image", ["author_id"], unique=False)
    op.create_table(
        "post",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="draft", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('draft', 'published', 'archived')", name=op.f("ck_post_status_valid")),
        sa.CheckConstraint("char_length(title) BETWEEN 1 AND 200", name=op.f("ck_post_title_length")),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_post_author_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_post_category_id_category"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post")),
    )
    op.create_index(op.f("ix_post_author_id"), "post", ["author_id"], unique=False)
    op.create_index(op.f("ix_post_category_id"), "post", ["category_id"], unique=False)
    op.create_index("ix_post_status_created_at", "post", ["status", "created_at"], unique=False)
    op.create_index(
        "ix_post_title_trgm",
        "post",
        ["title"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
    op.create_table(
        "product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 200", name=op.f("ck_product_name_length")),
        sa.CheckConstraint("price >= 0", name=op.f("ck_product_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
            name=op.f("fk_product_category_id_category"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product")),
    )
    op.create_index(op.f("ix_product_category_id"), "product", ["category_id"], unique=False)
    op.create_table(
        "comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("moderation_state", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("moderation_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("moderated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("moderated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(moderation_state = 'pending') = (moderated_at IS NULL)",
            name=op.f("ck_comment_moderated_at_matches_state"),
        ),
        sa.CheckConstraint(
            "moderation_state IN ('pending', 'approved', 'rejected')",
            name=op.f("ck_comment_moderation_state_valid"),
        ),
        sa.CheckConstraint("char_length(content) BETWEEN 1 AND 10000", name=op.f("ck_comment_content_length")),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_comment_author_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["moderated_by_id"],
            ["user_account.id"],
            name=op.f("fk_comment_moderated_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["post_id"], ["post.id"], name=op.f("fk_comment_post_id_post"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment")),
    )
    op.create_index(op.f("ix_comment_author_id"), "comment", ["author_id"], unique=False)
    op.create_index("ix_comment_post_id_state", "comment", ["post_id", "moderation_state"], unique=False)
    op.create_table(
        "item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("hero_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["hero_id"], ["hero.id"], name=op.f("fk_item_hero_id_hero"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item")),
    )
    op.create_index(op.f("ix_item_hero_id"), "item", ["hero_id"], unique=False)
    for statement in TAG_TRIGGERS_UP:
        op.execute(statement)


def downgrade() -> None:
    """Downgrade schema."""
    for statement in TAG_TRIGGERS_DOWN:
        op.execute(statement)
    op.drop_index(op.f("ix_item_hero_id"), table_name="item")
    op.drop_table("item")
    op.drop_index("ix_comment_post_id_state", table_name="comment")
    op.drop_index(op.f("ix_comment_author_id"), table_name="comment")
    op.drop_table("comment")
    op.drop_index(op.f("ix_product_category_id"), table_name="product")
    op.drop_table("product")
    op.drop_index(
        "ix_post_title_trgm",
        table_name="post",
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
    op.drop_index("ix_post_status_created_at", table_name="post")
    op.drop_index(op.f("ix_post_category_id"), table_name="post")
    op.drop_index(op.f("ix_post_author_id"), table_name="post")
    op.drop_table("post")
    op.drop_index(op.f("ix_image_author_id"), table_name="image")
    op.drop_table("image")
    op.drop_index(op.f("ix_hero_team_id"), table_name="hero")
    op.drop_table("hero")
    op.drop_index(op.f("ix_enrollment_course_id"), table_name="enrollment")
    op.drop_table("enrollment")
    op.drop_index(
        "ix_article_title_trgm",
        table_name="article",
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
    op.drop_index(
        "ix_article_published_created_at",
        table_name="article",
        postgresql_where=sa.text("status = 'published'"),
    )
    op.drop_index("ix_article_author_id_created_at", table_name="article")
    op.drop_table("article")
    op.drop_index("uq_user_account_email_lower", table_name="user_account")
    op.drop_table("user_account")
    op.drop_index("ix_transfer_log_hero_id_transfer_date", table_name="transfer_log")
    op.drop_table("transfer_log")
    op.drop_table("team")
    op.drop_index("ix_tag_name", table_name="tag")
    op.drop_table("tag")
    op.drop_index("uq_student_email_lower", table_name="student")
    op.drop_table("student")
    op.drop_table("course")
    op.drop_index(op.f("ix_category_parent_id"), table_name="category")
    op.drop_table("category")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
