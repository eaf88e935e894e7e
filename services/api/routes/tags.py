"""Articles, images and their tags. Reads are public (drafts: their author and admins);
authors create and change their own items, admins anyone's."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from services.api.deps import OPTIONAL_AUTH, CurrentUser, CursorParam, OptionalUser, SessionDep, write_limit
from services.api.problems import BODY_ERRORS, problem_responses
from shared.schemas import Page, RowId, StoredText
from shared.tagging import service
from shared.tagging.schemas import (
    ArticleCreate,
    ArticleRead,
    ArticleUpdate,
    ImageCreate,
    ImageRead,
    ImageUpdate,
    TaggedItemPage,
    TagsReplace,
)

router = APIRouter(tags=["tags"])

Limit = Annotated[int, Query(ge=1, le=100, description="page size")]
AuthorFilter = Annotated[RowId | None, Query(description="only items by this author")]
WRITE_ERRORS = problem_responses(401, 403, 404)
# Writes that read a JSON body.
BODY_WRITE_ERRORS = problem_responses(*BODY_ERRORS, 401, 403, 404)


@router.post(
    "/articles",
    status_code=status.HTTP_201_CREATED,
    summary="Write an article",
    responses=problem_responses(429, *BODY_ERRORS, 401),
    dependencies=[Depends(write_limit("articles"))],
)
async def create_article(data: ArticleCreate, session: SessionDep, user: CurrentUser) -> ArticleRead:
    """Write an article (the caller is its author), a draft unless `status` says published."""
    return await service.create_article(session, user, data)


@router.get("/articles", summary="List articles", responses=problem_responses(401), openapi_extra=OPTIONAL_AUTH)
async def list_articles(
    session: SessionDep,
    viewer: OptionalUser,
    limit: Limit = 20,
    cursor: CursorParam = None,
    author_id: AuthorFilter = None,
) -> Page[ArticleRead]:
    """Newest first: published articles, plus the caller's own drafts (every draft for an admin)."""
    return await service.list_articles(session, viewer, limit=limit, cursor=cursor, author_id=author_id)


@router.get(
    "/articles/{article_id}",
    summary="Read an article",
    responses=problem_responses(401, 404),
    openapi_extra=OPTIONAL_AUTH,
)
async def read_article(article_id: RowId, session: SessionDep, viewer: OptionalUser) -> ArticleRead:
    """An article with its tags; someone else's draft is a 404."""
    return await service.get_article(session, article_id, viewer)


@router.patch("/articles/{article_id}", summary="Change or publish an article", responses=BODY_WRITE_ERRORS)
async def update_article(article_id: RowId, data: ArticleUpdate, session: SessionDep, user: CurrentUser) -> ArticleRead:
    """Edit or publish an article (its author or an admin)."""
    return await service.update_article(session, article_id, user, data)


@router.delete(
    "/articles/{article_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an article",
    responses=WRITE_ERRORS,
)
async def delete_article(article_id: RowId, session: SessionDep, user: CurrentUser) -> Response:
    """Delete an article and its tags (its author or an admin)."""
    await service.delete_article(session, article_id, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/articles/{article_id}/tags", summary="Replace an article's tags", responses=BODY_WRITE_ERRORS)
async def replace_article_tags(
    article_id: RowId, data: TagsReplace, session: SessionDep, user: CurrentUser
) -> ArticleRead:
    """Replace the article's tag set (its author or an admin). Names are trimmed and lower-cased."""
    return await service.replace_article_tags(session, article_id, user, data.tags)


@router.post(
    "/images",
    status_code=status.HTTP_201_CREATED,
    summary="Add an image",
    responses=problem_responses(429, *BODY_ERRORS, 401),
    dependencies=[Depends(write_limit("images"))],
)
async def create_image(data: ImageCreate, session: SessionDep, user: CurrentUser) -> ImageRead:
    """Add an image (the caller is its author)."""
    return await service.create_image(session, user, data)


@router.get("/images", summary="List images")
async def list_images(
    session: SessionDep, limit: Limit = 20, cursor: CursorParam = None, author_id: AuthorFilter = None
) -> Page[ImageRead]:
    """Newest first, each with its tags."""
    return await service.list_images(session, limit=limit, cursor=cursor, author_id=author_id)


@router.get("/images/{image_id}", summary="Read an image", responses=problem_responses(404))
async def read_image(image_id: RowId, session: SessionDep) -> ImageRead:
    """An image with its tags."""
    return await service.get_image(session, image_id)


@router.patch("/images/{image_id}", summary="Change an image", responses=BODY_WRITE_ERRORS)
async def update_image(image_id: RowId, data: ImageUpdate, session: SessionDep, user: CurrentUser) -> ImageRead:
    """Edit an image's file name or alt text (its author or an admin)."""
    return await service.update_image(session, image_id, user, data)


@router.delete(
    "/images/{image_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an image", responses=WRITE_ERRORS
)
async def delete_image(image_id: RowId, session: SessionDep, user: CurrentUser) -> Response:
    """Delete an image and its tags (its author or an admin)."""
    await service.delete_image(session, image_id, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/images/{image_id}/tags", summary="Replace an image's tags", responses=BODY_WRITE_ERRORS)
async def replace_image_tags(image_id: RowId, data: TagsReplace, session: SessionDep, user: CurrentUser) -> ImageRead:
    """Replace the image's tag set (its author or an admin). Names are trimmed and lower-cased."""
    return await service.replace_image_tags(session, image_id, user, data.tags)


@router.get(
    "/tags/{name}",
    summary="List the articles and images with a tag",
    responses=problem_responses(401),
    openapi_extra=OPTIONAL_AUTH,
)
async def items_with_tag(
    name: Annotated[StoredText, Path(min_length=1, max_length=200)],
    session: SessionDep,
    viewer: OptionalUser,
    limit: Limit = 20,
    cursor: CursorParam = None,
) -> TaggedItemPage:
    """Every article and image carrying the tag, each marked with its `type`, by type then id.
    Drafts appear only to their author and admins; an unknown tag is an empty page."""
    return await service.items_with_tag(session, name, viewer, limit=limit, cursor=cursor)
