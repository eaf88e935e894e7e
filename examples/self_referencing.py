"""Self-referencing models: reading a Category tree (shared/models/catalog.py) with recursive CTEs.

Shows what the service does not need as such: a whole subtree with each category's depth, the
ancestors of a category (its breadcrumb without itself), and the products of a category or of its
whole subtree; each ONE statement, whatever the depth. The service's own reads are beside its
other SQL (shared/catalog/queries.py: subtree_ids, breadcrumb, tree_page_statement, products_page).

    python -m examples.self_referencing
"""

from collections.abc import Sequence
from decimal import Decimal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from examples._run import run
from shared.catalog.queries import breadcrumb, subtree_ids
from shared.models.catalog import Category, Product


async def subtree(session: AsyncSession, root_id: int) -> list[tuple[Category, int]]:
    """The category and all its descendants, any depth, with their depth below the root,
    in ONE statement; parents come before their children."""
    tree = subtree_ids(root_id)
    statement = (
        select(Category, tree.c.depth)
        .join(tree, col(Category.id) == tree.c.id)
        .order_by(tree.c.depth, col(Category.name), col(Category.id))
    )
    return [(row[0], row[1]) for row in (await session.exec(statement)).all()]


async def ancestors(session: AsyncSession, category_id: int) -> Sequence[Category]:
    """The chain from the root down to the category's parent, in ONE statement (the breadcrumb
    without its last element). Empty for a root; the category itself is not included."""
    return (await breadcrumb(session, category_id))[:-1]


async def products_in(session: AsyncSession, category_id: int, *, descendants: bool = False) -> Sequence[Product]:
    """Products of one category, or of its whole subtree (one statement either way)."""
    statement = select(Product).order_by(col(Product.id))
    if descendants:
        tree = subtree_ids(category_id)
        statement = statement.join(tree, col(Product.category_id) == tree.c.id)
    else:
        statement = statement.where(col(Product.category_id) == category_id)
    return (await session.exec(statement)).all()


async def demo(session: AsyncSession) -> None:
    """A three-level tree with a product at each level, read each way."""
    parent_id: int | None = None
    chain: list[Category] = []
    for name in ("Example: books", "Example: fiction", "Example: crime"):
        category = Category(name=name, parent_id=parent_id)
        session.add(category)
        await session.flush()
        chain.append(category)
        parent_id = category.id
        session.add(Product(name=f"A product in {name}", price=Decimal("1.00"), category_id=category.id))
    await session.flush()
    root, _, leaf = (category.id for category in chain)
    assert root is not None and leaf is not None
    for category, depth in await subtree(session, root):
        print("  " * depth + category.name)
    print("ancestors of the leaf:", [category.name for category in await ancestors(session, leaf)])
    print("products of the root alone:", len(await products_in(session, root)))
    print("products of its subtree:", len(await products_in(session, root, descendants=True)))


def main() -> None:
    run(demo)


if __name__ == "__main__":
    main()
