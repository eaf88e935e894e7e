"""Articles and images with their tags: who may see and change what, and keyset pages of them.

Visibility: published articles are public; a draft is seen by its author and admins only
(anyone else gets a 404 on reads, as if it did not exist). Writes on an item someone else owns
are a 403 (ensure_owner_or_admin). Deleting an item deletes its tags in the database (trigger).
"""

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.access import ensure_owner_or_admin
from shared.auth.callers import Caller
from shared.db import flush
from shared.errors import NotFound
from shared.models.tagging import Article, ArticleStatus, Image, TaggableType
from shared.models.users import Role
from shared.pagination import page_of
from shared.schemas import Page, TimeIdPosition, row_id
from shared.tagging import queries
from shared.tagging.schemas import (
    TAG_NAME_MAX,
    ArticleCreate,
    ArticleRead,
    ArticleUpdate,
    ImageCreate,
    ImageRead,
    ImageUpdate,
    TaggedArticle,
    TaggedImage,
    TaggedItemPage,
    TaggedItemRead,
    TypeIdPosition,
    normalize_tag,
)

# --- articles -----------------------------------------------------------------------------------


def _may_read(article: Article, viewer: Caller | None) -> bool:
    if article.status == ArticleStatus.published:
        return True
    return viewer is not None and (viewer.role == Role.admin or viewer.id == article.author_id)


def _article_read(article: Article, tags: Sequence[str]) -> ArticleRead:
    return ArticleRead(**article.model_dump(exclude={"tags"}), tags=sorted(tags))


async def _article_for_write(session: AsyncSession, article_id: int, user: Caller) -> Article:
    """The article, row-locked (two tag replacements on it must not interleave), if `user` may change it."""
    article = await session.get(Article, article_id, with_for_update=True)
    # Someone else's draft is "not found", as on read: a 403 would confirm that it exists.
    if article is None or not _may_read(article, user):
        raise NotFound("article", article_id)
    ensure_owner_or_admin(user, article.author_id, "article")
    return article


async def create_article(session: AsyncSession, author: Caller, data: ArticleCreate) -> ArticleRead:
    article = Article(title=data.title, content=data.content, status=data.status, author_id=author.id)
    session.add(article)
    await flush(session)
    tags = await queries.replace_tags(session, TaggableType.article, row_id(article), data.tags) if data.tags else []
    return _article_read(article, tags)


async def get_article(session: AsyncSession, article_id: int, viewer: Caller | None) -> ArticleRead:
    article = await session.get(Article, article_id)
    if article is None or not _may_read(article, viewer):
        raise NotFound("article", article_id)
    tags = await queries.tags_of(session, TaggableType.article, [article_id])
    return _article_read(article, tags[article_id])


async def update_article(session: AsyncSession, article_id: int, user: Caller, data: ArticleUpdate) -> ArticleRead:
    article = await _article_for_write(session, article_id, user)
    for field in data.model_fields_set:
        setattr(article, field, getattr(data, field))
    await flush(session)
    tags = await queries.tags_of(session, TaggableType.article, [article_id])
    return _article_read(article, tags[article_id])


async def delete_article(session: AsyncSession, article_id: int, user: Caller) -> None:
    article = await _article_for_write(session, article_id, user)
    await session.delete(article)  # its tags go with it, in the database
    await flush(session)


async def replace_article_tags(session: AsyncSession, article_id: int, user: Caller, names: list[str]) -> ArticleRead:
    article = await _article_for_write(session, article_id, user)
    tags = await queries.replace_tags(session, TaggableType.article, article_id, names)
    return _article_read(article, tags)


async def list_articles(
    session: AsyncSession, viewer: Caller | None, *, limit: int, cursor: str | None, author_id: int | None
) -> Page[ArticleRead]:
    """Newest first: the published articles, plus the viewer's own drafts (every draft for an admin).
    Two statements whatever the page size: the page, then the tags of all its articles."""
    rows = await queries.articles_page(
        session, viewer=viewer, limit=limit, after=TimeIdPosition.decode(cursor), author_id=author_id
    )
    page: Page[Article] = page_of(rows, limit, _created_position)
    tags = await _tags_by_id(session, TaggableType.article, page.items)
    items = [_article_read(row, tags.get(row_id(row), [])) for row in page.items]
    return Page[ArticleRead](items=items, next_cursor=page.next_cursor)


# --- images -------------------------------------------------------------------------------------


def _image_read(image: Image, tags: Sequence[str]) -> ImageRead:
    return ImageRead(**image.model_dump(exclude={"tags"}), tags=sorted(tags))


async def _image_for_write(session: AsyncSession, image_id: int, user: Caller) -> Image:
    image = await session.get(Image, image_id, with_for_update=True)
    if image is None:
        raise NotFound("image", image_id)
    ensure_owner_or_admin(user, image.author_id, "image")
    return image


async def create_image(session: AsyncSession, author: Caller, data: ImageCreate) -> ImageRead:
    image = Image(filename=data.filename, alt_text=data.alt_text, author_id=author.id)
    session.add(image)
    await flush(session)
    tags = await queries.replace_tags(session, TaggableType.image, row_id(image), data.tags) if data.tags else []
    return _image_read(image, tags)


async def get_image(session: AsyncSession, image_id: int) -> ImageRead:
    image = await session.get(Image, image_id)
    if image is None:
        raise NotFound("image", image_id)
    tags = await queries.tags_of(session, TaggableType.image, [image_id])
    return _image_read(image, tags[image_id])


async def update_image(session: AsyncSession, image_id: int, user: Caller, data: ImageUpdate) -> ImageRead:
    image = await _image_for_write(session, image_id, user)
    for field in data.model_fields_set:
        setattr(image, field, getattr(data, field))
    await flush(session)
    tags = await queries.tags_of(session, TaggableType.image, [image_id])
    return _image_read(image, tags[image_id])


async def delete_image(session: AsyncSession, image_id: int, user: Caller) -> None:
    image = await _image_for_write(session, image_id, user)
    await session.delete(image)
    await flush(session)


async def replace_image_tags(session: AsyncSession, image_id: int, user: Caller, names: list[str]) -> ImageRead:
    image = await _image_for_write(session, image_id, user)
    tags = await queries.replace_tags(session, TaggableType.image, image_id, names)
    return _image_read(image, tags)


async def list_images(
    session: AsyncSession, *, limit: int, cursor: str | None, author_id: int | None
) -> Page[ImageRead]:
    """Newest first, with their tags: two statements whatever the page size."""
    rows = await queries.images_page(session, limit=limit, after=TimeIdPosition.decode(cursor), author_id=author_id)
    page: Page[Image] = page_of(rows, limit, _created_position)
    tags = await _tags_by_id(session, TaggableType.image, page.items)
    items = [_image_read(row, tags.get(row_id(row), [])) for row in page.items]
    return Page[ImageRead](items=items, next_cursor=page.next_cursor)


async def _tags_by_id(
    session: AsyncSession, kind: TaggableType, page: Sequence[Article | Image]
) -> dict[int, list[str]]:
    """The tags of a whole page in one statement (none for an empty page)."""
    ids = [row.id for row in page if row.id is not None]
    return await queries.tags_of(session, kind, ids) if ids else {}


# --- tags ---------------------------------------------------------------------------------------


async def items_with_tag(
    session: AsyncSession, name: str, viewer: Caller | None, *, limit: int, cursor: str | None
) -> TaggedItemPage:
    """Every article and image tagged `name` that the viewer may read, by (type, id): ONE statement.

    An unknown tag is an empty page, not a 404: a tag exists only through the items carrying it.
    """
    position = TypeIdPosition.decode(cursor)
    after = (position.type.value, position.id) if position else None
    name = normalize_tag(name)
    if not name or len(name) > TAG_NAME_MAX:
        return TaggedItemPage(items=[])
    found = await queries.items_with_tag(
        session, name, article_filter=queries.article_visible_to(viewer), limit=limit, after=after
    )
    return page_of(
        found,
        limit,
        lambda entry: TypeIdPosition(type=entry.type, id=row_id(entry.item)),
        _tagged_read,
        page=TaggedItemPage,
    )


def _tagged_read(entry: queries.TaggedItem) -> TaggedItemRead:
    if entry.type == TaggableType.article:
        return TaggedArticle.model_validate(entry.item, from_attributes=True)
    return TaggedImage.model_validate(entry.item, from_attributes=True)


def _created_position(row: Article | Image) -> TimeIdPosition:
    """Where a page of articles or images (newest first) ended."""
    return TimeIdPosition(at=row.created_at, id=row_id(row))
