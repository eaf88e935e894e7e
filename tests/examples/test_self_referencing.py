"""examples/self_referencing.py: subtrees, ancestors and a subtree's products, one statement each."""

from decimal import Decimal
from itertools import pairwise

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from examples.self_referencing import ancestors, demo, products_in, subtree
from shared.db import flush
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
        rows = await subtree(session, chain[0].id)  # type: ignore[arg-type]
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
        breadcrumb = await ancestors(session, chain[-1].id)  # type: ignore[arg-type]
    assert statements.count == 1
    assert [c.id for c in breadcrumb] == [c.id for c in chain[:-1]]
    assert await ancestors(session, chain[0].id) == []  # type: ignore[arg-type]


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
    only_root = await products_in(session, root.id)  # type: ignore[arg-type]
    whole = await products_in(session, root.id, descendants=True)  # type: ignore[arg-type]
    assert [p.name for p in only_root] == ["Pen"]
    assert sorted(p.name for p in whole) == ["Ink", "Pen"]
    post = (await session.exec(select(Post).where(col(Post.category_id) == child.id))).one()
    assert post.title == "About pens"


async def test_the_example_runs(session: AsyncSession) -> None:
    await demo(session)
