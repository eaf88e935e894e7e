"""The Category tree (a cycle spotted in one statement, sibling names unique) and exact-price products."""

from decimal import Decimal

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.catalog import queries
from shared.db import flush
from shared.errors import ConstraintViolation
from shared.models.catalog import Category, Product
from tests.shared.factories import make_category_chain


async def test_is_descendant_spots_a_cycle(session: AsyncSession) -> None:
    a, _b, c = await make_category_chain(session, depth=3)
    assert await queries.is_descendant(session, c.id, of_id=a.id)  # type: ignore[arg-type]
    assert await queries.is_descendant(session, a.id, of_id=a.id)  # type: ignore[arg-type]
    assert not await queries.is_descendant(session, a.id, of_id=c.id)  # type: ignore[arg-type]


async def test_sibling_names_are_unique_roots_included(session: AsyncSession) -> None:
    session.add(Category(name="Books"))
    await flush(session)
    session.add(Category(name="Books"))
    with pytest.raises(ConstraintViolation) as caught:
        await flush(session)
    assert caught.value.constraint == "uq_category_parent_id_name"


async def test_price_is_exact_and_never_negative(session: AsyncSession) -> None:
    session.add(Product(name="Cheap", price=Decimal("0.10")))
    await flush(session)
    session.expunge_all()
    total = sum(p.price for p in (await session.exec(select(Product))).all())
    assert total == Decimal("0.10") and isinstance(total, Decimal)
    session.add(Product(name="Refund", price=Decimal("-0.01")))
    with pytest.raises(ConstraintViolation) as caught:
        await flush(session)
    assert caught.value.constraint == "ck_product_price_not_negative"
    assert caught.value.message == "price cannot be negative"
