"""Tag reads and writes across both taggable types."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.callers import Caller
from shared.db import flush
from shared.models.tagging import Article, ArticleStatus, Image, Tag, TaggableType
from shared.models.users import Role
from shared.pagination import keyset
from shared.schemas import TimeIdPosition


@dataclass(frozen=True)
class TaggedItem:
    type: TaggableType
    item: Article | Image


async def replace_tags(session: AsyncSession, kind: TaggableType, item_id: int, names: Sequence[str]) -> list[str]:
    """Make the item's tag set exactly `names` (deduplicated): one DELETE of the tags no longer
    wanted and one INSERT of the new ones, whatever the count."""
    wanted = sorted(set(names))
    await session.exec(
        delete(Tag).where(col(Tag.taggable_type) == kind, col(Tag.taggable_id) == item_id, col(Tag.name).not_in(wanted))
    )
    existing = set(
        (
            await session.exec(select(Tag.name).where(col(Tag.taggable_type) == kind, col(Tag.taggable_id) == item_id))
        ).all()
    )
    session.add_all(Tag(name=name, taggable_type=kind, taggable_id=item_id) for name in wanted if name not in existing)
    await flush(session)
    return wanted


async def tags_of(session: AsyncSession, kind: TaggableType, item_ids: Sequence[int]) -> dict[int, list[str]]:
    """Tag names per item for a page of items, in one statement."""
    statement = (
        select(Tag.taggable_id, Tag.name)
        .where(col(Tag.taggable_type) == kind, col(Tag.taggable_id).in_(item_ids))
        .order_by(col(Tag.name))
    )
    names: dict[int, list[str]] = {item_id: [] for item_id in item_ids}
    for item_id, name in (await session.exec(statement)).all():
        names[item_id].append(name)
    return names


def article_visible_to(viewer: Caller | None) -> ColumnElement[bool] | None:
    """Which articles `viewer` may read: published ones, their own drafts, every one for an admin
    (None: no condition needed)."""
    if viewer is not None and viewer.role == Role.admin:
        return None
    published = col(Article.status) == ArticleStatus.published
    return published if viewer is None else or_(published, col(Article.author_id) == viewer.id)


async def articles_page(
    session: AsyncSession,
    *,
    viewer: Caller | None,
    limit: int,
    after: TimeIdPosition | None = None,
    author_id: int | None = None,
) -> Sequence[Article]:
    """A page of the articles `viewer` may read, newest first, after `after`: one statement, up to
    `limit + 1` rows (the extra one says a next page exists: shared.pagination)."""
    statement = select(Article)
    if (visible := article_visible_to(viewer)) is not None:
        statement = statement.where(visible)
    if author_id is not None:
        statement = statement.where(col(Article.author_id) == author_id)
    order = (col(Article.created_at), col(Article.id))
    statement = keyset(statement, order, (after.at, after.id) if after else None, limit=limit, descending=True)
    return (await session.exec(statement)).all()


async def images_page(
    session: AsyncSession, *, limit: int, after: TimeIdPosition | None = None, author_id: int | None = None
) -> Sequence[Image]:
    """A page of images, newest first, after `after`: one statement, up to `limit + 1` rows."""
    statement = select(Image)
    if author_id is not None:
        statement = statement.where(col(Image.author_id) == author_id)
    order = (col(Image.created_at), col(Image.id))
    statement = keyset(statement, order, (after.at, after.id) if after else None, limit=limit, descending=True)
    return (await session.exec(statement)).all()


async def items_with_tag(
    session: AsyncSession,
    name: str,
    *,
    article_filter: ColumnElement[bool] | None = None,
    limit: int | None = None,
    after: tuple[str, int] | None = None,
) -> list[TaggedItem]:
    """Every article and image carrying tag `name`, in ONE statement: a LEFT JOIN per type with
    the discriminator in each join condition, ordered by (type, id).

    `article_filter` narrows the articles (e.g. `article_visible_to(viewer)`: no one else's
    drafts); `limit` makes it a page of up to `limit + 1` items (shared.pagination) after `after`
    (the (type, id) of the last item served); without it, every item.
    """
    statement = (
        select(Tag.taggable_type, Article, Image)
        .outerjoin(
            Article, and_(col(Tag.taggable_type) == TaggableType.article, col(Article.id) == col(Tag.taggable_id))
        )
        .outerjoin(Image, and_(col(Tag.taggable_type) == TaggableType.image, col(Image.id) == col(Tag.taggable_id)))
        .where(col(Tag.name) == name)
    )
    if article_filter is not None:
        statement = statement.where(or_(col(Tag.taggable_type) != TaggableType.article, article_filter))
    order = (col(Tag.taggable_type), col(Tag.taggable_id))
    statement = statement.order_by(*order) if limit is None else keyset(statement, order, after, limit=limit)
    items: list[TaggedItem] = []
    for taggable_type, article, image in (await session.exec(statement)).all():
        item = article if taggable_type == TaggableType.article else image
        if item is not None:  # the triggers forbid orphans; this only guards the type checker
            items.append(TaggedItem(type=TaggableType(taggable_type), item=item))
    return items
