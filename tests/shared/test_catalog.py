"""The Category tree (subtrees and ancestors in one statement each) and exact-price products."""

from decimal import Decimal
from itertools import pairwise

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.catalog import queries
from shared.db import flush
from shared.errors import ConstraintViolation
from shared.models.blog import Post
from shared.models.catalog import Category, Product
from tests.conftest import StatementLog
from tests.shared.factories import make_category_chain, make_user


async def test_a_subtree_twelve_levels_deep_comes_back_in_one_statement(
    session: AsyncSession, statements: StatementLog
) -> None:
    chain = await make_category_chain(session, depth=12)
    sibling = Category(name="sibling", parent_id=chain[0].id)
    outsider = Category(name="outsider")
    session.add_all([sibling, outsider])
    await flush(session)
    session.expunge_all()
    with statements.record():
        rows = await queries.subtree(session, chain[0].id)  # type: ignore[arg-type]
    assert statements.count == 1
    ids = [category.id for category, _ in rows]
    assert set(ids) == {c.id for c in chain} | {sibling.id}
    assert [depth for _, depth in rows][:2] == [0, 1] and max(depth for _, depth in rows) == 11
    # Parents come before children.
    position = {category_id: i for i, category_id in enumerate(ids)}
    assert all(position[a.id] < position[b.id] for a, b in pairwise(chain))


async def test_ancestors_come_back_root_first_in_one_statement(session: AsyncSession, statements: StatementLog) -> None:
    chain = await make_category_chain(session, depth=12)
    with statements.record():
        breadcrumb = await queries.ancestors(session, chain[-1].id)  # type: ignore[arg-type]
    assert statements.count == 1
    assert [c.id for c in breadcrumb] == [c.id for c in chain[:-1]]
    assert await queries.ancestors(session, chain[0].id) == []  # type: ignore[arg-type]


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


async def test_products_and_posts_share_the_one_tree(session: AsyncSession) -> None:
    root, child = await make_category_chain(session, depth=2)
    author = await make_user(session)
    session.add_all(
        [
            Product(name="Pen", price=Decimal("1.10"), category_id=root.id),
            Product(name="Ink", price=Decimal("0.35"), category_id=child.id),
            Post(title="About pens", content="...", author_id=author.id, category_id=child.id),
        ]
    )
    await flush(session)
    only_root = await queries.products_in(session, root.id)  # type: ignore[arg-type]
    whole = await queries.products_in(session, root.id, descendants=True)  # type: ignore[arg-type]
    assert [p.name for p in only_root] == ["Pen"]
    assert sorted(p.name for p in whole) == ["Ink", "Pen"]
    post = (await session.exec(select(Post).where(col(Post.category_id) == child.id))).one()
    assert post.title == "About pens"


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
