"""The catalog's SQL: the category tree (breadcrumbs, cycle checks, the whole tree: one statement
each), product pages, and the lock tree moves take."""

from collections.abc import Sequence

from sqlalchemy import CTE, Integer, func, literal
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.catalog.schemas import CategoryNode, CategoryRead
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


async def category_tree(session: AsyncSession) -> list[CategoryNode]:
    """Every category, nested under its parent: ONE statement, the nesting is done here.

    Rows come sorted by name, so each children list is too. A recursive CTE would not help:
    the whole table is wanted, and assembling by parent_id in Python is linear.
    """
    rows = (await session.exec(select(Category).order_by(col(Category.name), col(Category.id)))).all()
    nodes = {row.id: CategoryNode(**CategoryRead.model_validate(row).model_dump()) for row in rows}
    roots: list[CategoryNode] = []
    for node in nodes.values():
        parent = nodes.get(node.parent_id) if node.parent_id is not None else None
        (parent.children if parent is not None else roots).append(node)
    return roots


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
