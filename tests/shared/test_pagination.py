"""shared.pagination: keyset pages visit every row once, in order, whatever ties the sort has, and
the last page has no next cursor; a page is one statement served by the index of its key."""

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.models.heroes import Hero
from shared.pagination import keyset, page_of
from shared.schemas import IdPosition
from tests.shared.factories import make_hero, unique


async def test_pages_by_a_composite_key_with_ties_visit_every_row_once_in_order(session: AsyncSession) -> None:
    prefix = unique("page")
    # Ties on the first key column (three heroes per name): the id decides between them.
    for n in range(7):
        for _ in range(3):
            await make_hero(session, name=f"{prefix}-{n}", secret_identity=unique("s"))
    base = select(Hero).where(col(Hero.name).startswith(prefix))
    key = [col(Hero.name), col(Hero.id)]
    expected = (await session.exec(base.order_by(col(Hero.name).desc(), col(Hero.id).desc()))).all()
    assert len(expected) == 21

    seen: list[int] = []
    after: tuple[str, int] | None = None
    pages = 0
    while True:
        rows = (await session.exec(keyset(base, key, after, limit=4, descending=True))).all()
        page = page_of(rows, 4, lambda hero: IdPosition(id=hero.id))  # the test pages by `after`
        pages += 1
        seen += [hero.id for hero in page.items if hero.id is not None]
        if page.next_cursor is None:
            break
        after = (page.items[-1].name, page.items[-1].id)
    assert seen == [hero.id for hero in expected]
    assert pages == 6  # 4 + 4 + 4 + 4 + 4 + 1


async def test_an_exact_last_page_has_no_next_cursor_and_items_are_mapped(session: AsyncSession) -> None:
    prefix = unique("exact")
    for n in range(4):
        await make_hero(session, name=f"{prefix}-{n}", secret_identity="x")
    base = select(Hero).where(col(Hero.name).startswith(prefix))
    rows = (await session.exec(keyset(base, [col(Hero.id)], None, limit=4))).all()
    page = page_of(rows, 4, lambda hero: IdPosition(id=hero.id), item_of=lambda hero: hero.name)
    assert page.items == [f"{prefix}-{n}" for n in range(4)] and page.next_cursor is None
    rows = (await session.exec(keyset(base, [col(Hero.id)], None, limit=3))).all()
    page = page_of(rows, 3, lambda hero: IdPosition(id=hero.id))
    assert len(page.items) == 3 and IdPosition.decode(page.next_cursor) == IdPosition(id=page.items[-1].id)
    # The next page starts after it.
    last = page.items[-1].id
    rows = (await session.exec(keyset(base, [col(Hero.id)], [last], limit=3))).all()
    assert [hero.name for hero in rows] == [f"{prefix}-3"]


def test_the_sql_is_a_row_comparison_in_the_key_order() -> None:
    statement = keyset(select(Hero), [col(Hero.name), col(Hero.id)], ("b", 2), limit=20, descending=True)
    sql = str(statement.compile(compile_kwargs={"literal_binds": True}))
    assert "(hero.name, hero.id) < ('b', 2)" in sql
    assert "ORDER BY hero.name DESC, hero.id DESC" in sql and "LIMIT 21" in sql
    first = str(keyset(select(Hero), [col(Hero.id)], None, limit=5).compile(compile_kwargs={"literal_binds": True}))
    assert "WHERE" not in first and "ORDER BY hero.id ASC" in first and "LIMIT 6" in first
