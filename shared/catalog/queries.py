"""The catalog's SQL: the category tree (breadcrumbs, cycle checks, tree pages: one statement
each), product pages, and the lock tree moves take."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import CTE, Integer, func, literal, literal_column
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from shared.models.catalog import Category, Product
from shared.pagination import keyset
from shared.schemas import IdPosition

# Key of the transaction-level advisory lock every tree move takes (lock_category_moves).
CATEGORY_MOVE_LOCK = 0x6361_7465  # "cate"


def subtree_ids(root_id: int) -> CTE:
    """Recursive CTE of (id, depth) for `root_id` and every category below it; join on `.c.id`."""
    tree = (
        select(col(Category.id).label("id"), literal(0, Integer).label("depth"))
        .where(col(Category.id) == root_id)
        .cte("subtree", recursive=True)
    )
    child = aliased(Category)
    return tree.union_all(
        select(col(child.id), (tree.c.depth + 1).label("depth")).where(col(child.parent_id) == tree.c.id)
    )


async def is_descendant(session: AsyncSession, candidate_id: int, of_id: int) -> bool:
    """Whether `candidate_id` lies in the subtree of `of_id` (itself included): moving `of_id`
    under such a category would make a cycle."""
    tree = subtree_ids(of_id)
    statement = select(tree.c.id).where(tree.c.id == candidate_id).limit(1)
    return (await session.exec(statement)).first() is not None


async def breadcrumb(session: AsyncSession, category_id: int) -> Sequence[Category]:
    """The chain from the root down to the category itself (included, last), in ONE statement.

    Empty when the category does not exist, which tells "unknown" apart from "a root" (one element).
    """
    chain = (
        select(col(Category.id).label("id"), literal(0, Integer).label("distance"))
        .where(col(Category.id) == category_id)
        .cte("breadcrumb", recursive=True)
    )
    step = aliased(Category)
    chain = chain.union_all(
        select(col(step.parent_id), (chain.c.distance + 1).label("distance")).where(
            col(step.id) == chain.c.id, col(step.parent_id).is_not(None)
        )
    )
    statement = select(Category).join(chain, col(Category.id) == chain.c.id).order_by(chain.c.distance.desc())
    return (await session.exec(statement)).all()


# Rows of a tree page: the category, its depth (0 for a root) and the subtree root's path (or NULL).
TreeRows = Select[Category, int, Any]


def tree_page_statement(*, root_id: int | None, limit: int, after: Sequence[str] | None = None) -> TreeRows:
    """A page of the tree in preorder (each category right after its parent, siblings by name
    then id): up to `limit + 1` categories (shared.pagination) after path `after`, or from
    `root_id`'s path on a subtree's first page. Category.path is the key, so a page is the next
    `limit + 1` entries of ix_category_path however big the tree is.

    A subtree is not bounded above here: a range with both ends unknown at planning time is
    estimated at 0.5% of the table, and the planner would then sort the whole range rather than
    walk the index. The rows carry the root's path instead, and `tree_page` stops at the first
    row outside the subtree: one page still reads at most `limit + 1` entries."""
    path = col(Category.path)
    root_path: Any = None
    if root_id is not None:
        root_path = select(path).where(col(Category.id) == root_id).scalar_subquery()
    statement = select(
        Category,
        (func.cardinality(path) - 1).label("depth"),
        literal_column("NULL") if root_path is None else root_path,
    )
    if root_path is not None and after is None:
        statement = statement.where(path >= root_path)
    return keyset(statement, (path,), (list(after),) if after is not None else None, limit=limit)


async def tree_page(
    session: AsyncSession, *, root_id: int | None, limit: int, after: Sequence[str] | None = None
) -> list[tuple[Category, int]]:
    """`tree_page_statement`'s rows, in ONE statement; for a subtree, only those inside it (a
    category is inside when its path starts with the root's). An unknown root has no rows."""
    rows = (await session.exec(tree_page_statement(root_id=root_id, limit=limit, after=after))).all()
    page: list[tuple[Category, int]] = []
    for category, depth, root in rows:
        if root_id is not None and (root is None or (category.path or [])[: len(root)] != root):
            break  # past the subtree's end (or no such root): the rest of the tree follows
        page.append((category, depth))
    return page


async def products_page(
    session: AsyncSession, category_id: int, *, descendants: bool, limit: int, after: IdPosition | None = None
) -> Sequence[Product]:
    """A page of a category's products (or its subtree's) by id, after `after`: one statement, up
    to `limit + 1` rows (the extra one says a next page exists: shared.pagination)."""
    statement = select(Product)
    if descendants:
        tree = subtree_ids(category_id)
        statement = statement.join(tree, col(Product.category_id) == tree.c.id)
    else:
        statement = statement.where(col(Product.category_id) == category_id)
    statement = keyset(statement, (col(Product.id),), (after.id,) if after else None, limit=limit)
    return (await session.exec(statement)).all()


async def lock_category_moves(session: AsyncSession) -> None:
    """Take the transaction-level advisory lock every tree move takes (CATEGORY_MOVE_LOCK), until
    the transaction ends. Moves are rare, so serializing them all is cheap, and it is what makes the
    cycle check sound: two moves checked concurrently (A under B, B under A) could each see no
    cycle and both commit one."""
    await session.exec(select(func.pg_advisory_xact_lock(CATEGORY_MOVE_LOCK)))
