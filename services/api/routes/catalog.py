"""Catalog: the category tree and its products. Reads are public; writes are for admins."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from services.api.deps import AdminUser, CursorParam, ReadsDep, SessionDep
from services.api.problems import BODY_ERRORS, problem_responses
from shared.catalog import service
from shared.catalog.schemas import (
    CategoryCreate,
    CategoryRead,
    CategoryTreeEntry,
    CategoryUpdate,
    ProductCreate,
    ProductRead,
)
from shared.schemas import Page, RowId

router = APIRouter(tags=["catalog"])

Limit = Annotated[int, Query(ge=1, le=100, description="page size")]


@router.post(
    "/categories",
    status_code=status.HTTP_201_CREATED,
    summary="Create a category",
    responses=problem_responses(*BODY_ERRORS, 401, 403, 404, 409),
)
async def create_category(data: CategoryCreate, session: SessionDep, admin: AdminUser) -> CategoryRead:
    """Create a category (admins). 404 for an unknown parent, 409 when a sibling has the name."""
    return CategoryRead.model_validate(await service.create_category(session, data))


TreeLimit = Annotated[int, Query(ge=1, le=1000, description="page size (categories)")]


@router.get("/categories/tree", summary="Read the category tree, a page at a time")
async def read_tree(
    reads: ReadsDep,
    root_id: Annotated[RowId | None, Query(description="only this category's subtree, itself first")] = None,
    limit: TreeLimit = 100,
    cursor: CursorParam = None,
) -> Page[CategoryTreeEntry]:
    """The tree in preorder: each category right after its parent, siblings by name (byte order)
    then id, with its `depth` (0 for a root; nest by `parent_id`). A page costs the same however
    big the tree is. With `root_id`, that category's subtree only (an empty page if there is no such category)."""
    return await reads.run(lambda session: service.tree_page(session, root_id=root_id, limit=limit, cursor=cursor))


@router.get("/categories/{category_id}", summary="Read a category", responses=problem_responses(404))
async def read_category(category_id: RowId, session: SessionDep) -> CategoryRead:
    """One category, without its children (GET /categories/tree has the tree)."""
    return CategoryRead.model_validate(await service.get_category(session, category_id))


@router.patch(
    "/categories/{category_id}",
    summary="Rename or move a category",
    responses=problem_responses(*BODY_ERRORS, 401, 403, 404, 409),
)
async def update_category(
    category_id: RowId, data: CategoryUpdate, session: SessionDep, admin: AdminUser
) -> CategoryRead:
    """Rename or move a category (admins). Moving it under itself or one of its descendants is a
    409 (`category_tree_acyclic`); `"parent_id": null` makes it a root."""
    return CategoryRead.model_validate(await service.update_category(session, category_id, data))


@router.get(
    "/categories/{category_id}/ancestors", summary="Read a category's breadcrumb", responses=problem_responses(404)
)
async def read_breadcrumb(category_id: RowId, session: SessionDep) -> list[CategoryRead]:
    """The breadcrumb: from the root down to this category (included, last)."""
    return [CategoryRead.model_validate(row) for row in await service.breadcrumb(session, category_id)]


@router.get(
    "/categories/{category_id}/products", summary="List a category's products", responses=problem_responses(404)
)
async def read_products(
    category_id: RowId,
    session: SessionDep,
    descendants: Annotated[bool, Query(description="include the products of every subcategory")] = False,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> Page[ProductRead]:
    """Products of a category (or of its whole subtree), by id, keyset-paginated."""
    return await service.products_of_category(session, category_id, descendants=descendants, limit=limit, cursor=cursor)


@router.post(
    "/products",
    status_code=status.HTTP_201_CREATED,
    summary="Create a product",
    responses=problem_responses(*BODY_ERRORS, 401, 403, 404),
)
async def create_product(data: ProductCreate, session: SessionDep, admin: AdminUser) -> ProductRead:
    """Create a product (admins). Price: >= 0, at most 2 decimals, answered as a string ("9.90")."""
    return ProductRead.model_validate(await service.create_product(session, data))


@router.get("/products/{product_id}", summary="Read a product", responses=problem_responses(404))
async def read_product(product_id: RowId, session: SessionDep) -> ProductRead:
    """One product; its price as a string with two decimals ("9.90")."""
    return ProductRead.model_validate(await service.get_product(session, product_id))
