"""Polymorphic tags: both relationships, database-enforced integrity, and reads across types."""

import pytest
from sqlalchemy.orm import selectinload
from sqlmodel import col, delete, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.errors import ConstraintViolation, constraint_errors
from shared.models.tagging import Article, Image, Tag, TaggableType
from shared.tagging import queries
from tests.conftest import StatementLog
from tests.shared.factories import make_user

INSERT_TAG = "INSERT INTO tag (name, taggable_type, taggable_id) VALUES (:name, :taggable_type, :taggable_id)"


async def make_items(session: AsyncSession) -> tuple[Article, Image]:
    author = await make_user(session)
    article = Article(title="Async SQLModel", content="...", author_id=author.id)
    image = Image(filename="cat.png", alt_text="a cat", author_id=author.id)
    session.add_all([article, image])
    await flush(session)
    return article, image


async def count_tags(session: AsyncSession, kind: str, item_id: int | None) -> int:
    rows = await session.exec(select(Tag).where(col(Tag.taggable_type) == kind, col(Tag.taggable_id) == item_id))
    return len(rows.all())


async def test_tags_work_both_ways_and_appending_sets_the_type(session: AsyncSession) -> None:
    article, image = await make_items(session)
    session.expunge_all()
    article = (
        await session.exec(select(Article).where(col(Article.id) == article.id).options(selectinload(Article.tags)))  # type: ignore[arg-type]
    ).one()
    image = (
        await session.exec(select(Image).where(col(Image.id) == image.id).options(selectinload(Image.tags)))  # type: ignore[arg-type]
    ).one()
    article.tags.append(Tag(name="python"))
    image.tags.append(Tag(name="python"))
    image.tags.append(Tag(name="cats"))
    await flush(session)
    session.expunge_all()

    tags = (
        await session.exec(
            select(Tag)
            .where(col(Tag.name) == "python")
            .options(selectinload(Tag.article), selectinload(Tag.image))  # type: ignore[arg-type]
            .order_by(col(Tag.taggable_type))
        )
    ).all()
    assert [(t.taggable_type, t.taggable_id) for t in tags] == [("article", article.id), ("image", image.id)]
    assert isinstance(tags[0].item, Article) and tags[0].item.id == article.id
    assert isinstance(tags[1].item, Image) and tags[1].item.id == image.id
    # Same id on both sides must not leak tags across types.
    loaded = (
        await session.exec(select(Image).where(col(Image.id) == image.id).options(selectinload(Image.tags)))  # type: ignore[arg-type]
    ).one()
    assert sorted(t.name for t in loaded.tags) == ["cats", "python"]


async def test_removing_a_tag_from_the_collection_deletes_it(session: AsyncSession) -> None:
    article, _ = await make_items(session)
    await queries.replace_tags(session, TaggableType.article, article.id, ["a", "b"])  # type: ignore[arg-type]
    session.expunge_all()
    loaded = (
        await session.exec(select(Article).where(col(Article.id) == article.id).options(selectinload(Article.tags)))  # type: ignore[arg-type]
    ).one()
    loaded.tags = [t for t in loaded.tags if t.name != "a"]
    await flush(session)
    assert await count_tags(session, "article", article.id) == 1


@pytest.mark.parametrize(
    ("how", "statement"),
    [
        ("bulk", None),
        ("raw", "DELETE FROM {table} WHERE id = :id"),
        ("truncate", "TRUNCATE {table} CASCADE"),
    ],
)
async def test_deleting_an_item_any_way_leaves_no_orphan_tag(
    session: AsyncSession, how: str, statement: str | None
) -> None:
    article, image = await make_items(session)
    for kind, item in (("article", article), ("image", image)):
        await queries.replace_tags(session, TaggableType(kind), item.id, ["x", "y"])  # type: ignore[arg-type]
    await queries.replace_tags(session, TaggableType.article, article.id, ["x", "y"])  # type: ignore[arg-type]
    for model, kind, item in ((Image, "image", image), (Article, "article", article)):
        if how == "bulk":
            await session.exec(delete(model).where(col(model.id) == item.id))  # type: ignore[call-overload]
        else:
            sql = text(statement.format(table=kind))  # type: ignore[union-attr]
            params = {"id": item.id} if how == "raw" else {}
            await session.exec(sql, params=params)  # type: ignore[call-overload]
        assert await count_tags(session, kind, item.id) == 0


async def test_deleting_through_the_orm_leaves_no_orphan_tag(session: AsyncSession) -> None:
    article, image = await make_items(session)
    await queries.replace_tags(session, TaggableType.image, image.id, ["kept-by-none"])  # type: ignore[arg-type]
    await queries.replace_tags(session, TaggableType.article, article.id, ["gone"])  # type: ignore[arg-type]
    await session.delete(image)  # tags not loaded: the database removes them, no lazy load
    await flush(session)
    assert await count_tags(session, "image", image.id) == 0
    assert await count_tags(session, "article", article.id) == 1


async def test_a_tag_must_point_at_an_existing_item_of_a_known_type(session: AsyncSession) -> None:
    article, _ = await make_items(session)
    cases = [
        ({"name": "x", "taggable_type": "image", "taggable_id": article.id + 1_000_000}, "fk_tag_taggable"),  # type: ignore[operator]
        ({"name": "x", "taggable_type": "video", "taggable_id": article.id}, "ck_tag_taggable_type_valid"),
    ]
    for values, constraint in cases:
        with pytest.raises(ConstraintViolation) as caught:
            async with session.begin_nested():
                with constraint_errors():
                    await session.exec(  # type: ignore[call-overload]
                        text(INSERT_TAG),
                        params=values,
                    )
        assert caught.value.constraint == constraint


async def test_one_tag_name_per_item(session: AsyncSession) -> None:
    article, _ = await make_items(session)
    session.add(Tag(name="dup", taggable_type="article", taggable_id=article.id))  # type: ignore[arg-type]
    await flush(session)
    session.add(Tag(name="dup", taggable_type="article", taggable_id=article.id))  # type: ignore[arg-type]
    with pytest.raises(ConstraintViolation) as caught:
        await flush(session)
    assert caught.value.constraint == "uq_tag_taggable_type_taggable_id_name"


async def test_all_items_with_a_tag_across_both_types_in_one_statement(
    session: AsyncSession, statements: StatementLog
) -> None:
    article, image = await make_items(session)
    other, _ = await make_items(session)
    await queries.replace_tags(session, TaggableType.article, article.id, ["shared", "solo"])  # type: ignore[arg-type]
    await queries.replace_tags(session, TaggableType.image, image.id, ["shared"])  # type: ignore[arg-type]
    await queries.replace_tags(session, TaggableType.article, other.id, ["solo"])  # type: ignore[arg-type]
    session.expunge_all()
    with statements.record():
        tagged = await queries.items_with_tag(session, "shared")
    assert statements.count == 1
    assert [(t.type, t.item.id) for t in tagged] == [("article", article.id), ("image", image.id)]
    assert isinstance(tagged[1].item, Image) and tagged[1].item.filename == "cat.png"


async def test_replace_tags_makes_the_set_exact(session: AsyncSession) -> None:
    article, _ = await make_items(session)
    item_id: int = article.id  # type: ignore[assignment]
    await queries.replace_tags(session, TaggableType.article, item_id, ["a", "b", "b"])
    await queries.replace_tags(session, TaggableType.article, item_id, ["b", "c"])
    assert (await queries.tags_of(session, TaggableType.article, [item_id])) == {item_id: ["b", "c"]}
