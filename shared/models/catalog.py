"""Catalog: one self-referencing Category tree shared by products and posts."""

from decimal import Decimal
from typing import TYPE_CHECKING, Optional

from sqlalchemy import ARRAY, CheckConstraint, Column, FetchedValue, Index, Numeric, Text, UniqueConstraint, text
from sqlmodel import Field, Relationship, SQLModel

from shared.models.base import RAISE

if TYPE_CHECKING:
    from shared.models.blog import Post


class Category(SQLModel, table=True):
    # The trigger-set path comes back with the INSERT's or UPDATE's RETURNING, never by a lazy load.
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),
        # Sibling names are unique; NULLS NOT DISTINCT makes the roots siblings of each other.
        UniqueConstraint("parent_id", "name", postgresql_nulls_not_distinct=True),
        Index("ix_category_path", "path"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    description: str | None = None
    is_active: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    # RESTRICT: a category with children cannot vanish and orphan a subtree.
    parent_id: int | None = Field(default=None, foreign_key="category.id", ondelete="RESTRICT", index=True)
    # The category's place in the tree, root first: one step per level, each its name, byte 0x01
    # and its id in 10 digits (category_path_step). Ordered by it, the tree reads in preorder
    # (each category right after its parent, siblings by name then id), so the tree is a keyset
    # page (GET /categories/tree) and a subtree one index range. Set by triggers (migration
    # 0009) on every insert, rename and move, never by the application; "C" collation: compared
    # byte by byte, so 0x01 ends a name before any character could.
    # FetchedValue: set by the database, so the ORM reads it back (eager_defaults: in RETURNING).
    path: list[str] | None = Field(
        default=None,
        sa_column=Column(
            ARRAY(Text(collation="C")), nullable=False, server_default=FetchedValue(), server_onupdate=FetchedValue()
        ),
    )

    parent: Optional["Category"] = Relationship(
        back_populates="children",
        sa_relationship_kwargs={"remote_side": "Category.id", "lazy": RAISE},
    )
    children: list["Category"] = Relationship(back_populates="parent", sa_relationship_kwargs={"lazy": RAISE})
    products: list["Product"] = Relationship(back_populates="category", sa_relationship_kwargs={"lazy": RAISE})
    posts: list["Post"] = Relationship(back_populates="category", sa_relationship_kwargs={"lazy": RAISE})


class Product(SQLModel, table=True):
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 200", name="name_length"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    # Money is exact: NUMERIC(12, 2) <-> Decimal, never float.
    price: Decimal = Field(sa_type=Numeric(12, 2))
    category_id: int | None = Field(default=None, foreign_key="category.id", ondelete="SET NULL", index=True)

    category: Category | None = Relationship(back_populates="products", sa_relationship_kwargs={"lazy": RAISE})
