"""Tag reads and writes across both taggable types."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.models import Article, Image, Tag, TaggableType


@dataclass(frozen=True)
class TaggedItem:
    type: TaggableType
    item: Article | Image


async def items_with_tag(session: AsyncSession, name: str) -> list[TaggedItem]:
    """Every article and image carrying tag `name`, in ONE statement (a LEFT JOIN per type,
    the discriminator in each join condition)."""
    statement = (
        select(Tag.taggable_type, Article, Image)
        .outerjoin(
            Article, and_(col(Tag.taggable_type) == TaggableType.article, col(Article.id) == col(Tag.taggable_id))
        )
        .outerjoin(Image, and_(col(Tag.taggable_type) == TaggableType.image, col(Image.id) == col(Tag.taggable_id)))
        .where(col(Tag.name) == name)
        .order_by(col(Tag.taggable_type), col(Tag.taggable_id))
    )
    items: list[TaggedItem] = []
    for taggable_type, article, image in (await session.exec(statement)).all():
        item = article if taggable_type == TaggableType.article else image
        if item is not None:  # the triggers forbid orphans; this only guards the type checker
            items.append(TaggedItem(type=TaggableType(taggable_type), item=item))
    return items


async def replace_tags(session: AsyncSession, kind: TaggableType, item_id: int, names: Sequence[str]) -> list[str]:
    """Make the item's tag set exactly `names` (deduplicated): one DELETE of the tags no longer
    wanted and one INSERT of the new ones, whatever the count."""
    wanted = sorted(set(names))
    await session.exec(  # type: ignore[call-overload]
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
