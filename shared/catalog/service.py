"""Catalog writes and the rules around them (the tree stays a tree, prices stay exact), and its pages."""

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.catalog import queries
from shared.catalog.schemas import (
    CategoryCreate,
    CategoryRead,
    CategoryTreeEntry,
    CategoryUpdate,
    ProductCreate,
    ProductRead,
    TreePosition,
)
from shared.db import flush
from shared.errors import Conflict, NotFound
from shared.models.catalog import Category, Product
from shared.pagination import page_of
from shared.schemas import IdPosition, Page, row_id

ACYCLIC_RULE = "category_tree_acyclic"


async def get_category(session: AsyncSession, category_id: int) -> Category:
    category = await session.get(Category, category_id)
    if category is None:
        raise NotFound("category", category_id)
    return category


async def _ensure_parent_exists(session: AsyncSession, parent_id: int) -> None:
    if await session.get(Category, parent_id) is None:
        raise NotFound("parent category", parent_id)


async def create_category(session: AsyncSession, data: CategoryCreate) -> Category:
    """A new category; a sibling with the same name is a 409 (uq_category_parent_id_name)."""
    if data.parent_id is not None:
        await _ensure_parent_exists(session, data.parent_id)
    category = Category(name=data.name, description=data.description, parent_id=data.parent_id)
    session.add(category)
    await flush(session)
    return category


async def update_category(session: AsyncSession, category_id: int, data: CategoryUpdate) -> Category:
    """Rename, redescribe and/or move a category.

    A move under the category itself or one of its descendants would cut its subtree off
    the tree into a cycle: refused with a 409 naming `category_tree_acyclic`.
    """
    fields = data.model_fields_set
    moving = "parent_id" in fields and data.parent_id is not None
    if moving:
        await queries.lock_category_moves(session)  # the cycle check below is sound only under it
    # The row lock keeps a concurrent rename or move of the same category from being lost.
    category = await session.get(Category, category_id, with_for_update=True)
    if category is None:
        raise NotFound("category", category_id)
    if moving and data.parent_id != category.parent_id:
        assert data.parent_id is not None
        await _ensure_parent_exists(session, data.parent_id)
        if await queries.is_descendant(session, data.parent_id, category_id):
            raise Conflict(
                ACYCLIC_RULE,
                f"category {category_id} cannot move under category {data.parent_id}: "
                "that is the category itself or one of its descendants",
            )
    for field in ("name", "description", "parent_id"):
        if field in fields:
            setattr(category, field, getattr(data, field))
    await flush(session)
    return category


async def breadcrumb(session: AsyncSession, category_id: int) -> Sequence[Category]:
    """Root first, the category itself last; 404 for an unknown category."""
    chain = await queries.breadcrumb(session, category_id)
    if not chain:
        raise NotFound("category", category_id)
    return chain


async def products_of_category(
    session: AsyncSession, category_id: int, *, descendants: bool, limit: int, cursor: str | None
) -> Page[ProductRead]:
    """One page of a category's products (or its subtree's), by id; 404 for an unknown category."""
    position = IdPosition.decode(cursor)
    await get_category(session, category_id)
    rows = await queries.products_page(session, category_id, descendants=descendants, limit=limit, after=position)
    return page_of(
        rows, limit, lambda product: IdPosition(id=row_id(product)), ProductRead.model_validate, page=Page[ProductRead]
    )


async def get_product(session: AsyncSession, product_id: int) -> Product:
    product = await session.get(Product, product_id)
    if product is None:
        raise NotFound("product", product_id)
    return product


async def create_product(session: AsyncSession, data: ProductCreate) -> Product:
    if data.category_id is not None:
        await get_category(session, data.category_id)
    product = Product(name=data.name, price=data.price, category_id=data.category_id)
    session.add(product)
    await flush(session)
    return product


async def tree_page(
    session: AsyncSession, *, root_id: int | None, limit: int, cursor: str | None
) -> Page[CategoryTreeEntry]:
    """A page of the tree (or of `root_id`'s subtree) in preorder; an unknown root is an empty
    page, as an unknown id in any list's filter is. The
    cursor holds the last category's path: a page after a concurrent rename or move of a category
    above it continues from where that path sorts now (the moved subtree may be seen twice or not
    at all, as with any keyset over a changing order), and never fails."""
    position = TreePosition.decode(cursor)
    rows = await queries.tree_page(
        session, root_id=root_id, limit=limit, after=position.path if position is not None else None
    )

    def entry(row: tuple[Category, int]) -> CategoryTreeEntry:
        category, depth = row
        return CategoryTreeEntry(**CategoryRead.model_validate(category).model_dump(), depth=depth)

    def position_of(row: tuple[Category, int]) -> TreePosition:
        return TreePosition(path=row[0].path or [])

    return page_of(rows, limit, position_of, entry, page=Page[CategoryTreeEntry])
