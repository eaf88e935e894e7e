"""Posts: public when published; drafts and archived posts only for their author and admins."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query
from fastapi import status as http_status

from services.api.deps import (
    OPTIONAL_AUTH,
    CurrentUser,
    CursorParam,
    OptionalUser,
    ReadsDep,
    SessionDep,
    write_limit,
)
from services.api.problems import BODY_ERRORS, problem_responses
from shared.blog import queries, service
from shared.blog.queries import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from shared.blog.schemas import PostCreate, PostFilters, PostRead, PostUpdate
from shared.models.blog import PostStatus
from shared.schemas import Page, RowId, StoredText

router = APIRouter(prefix="/posts", tags=["posts"])

POST_EXAMPLES = {
    "draft": {
        "summary": "A draft (only its author and admins see it)",
        "value": {"title": "Async SQLModel in practice", "content": "Sessions, eager loading and keyset pages."},
    },
    "published": {
        "summary": "Published at once, in a category",
        "value": {
            "title": "Keyset pagination",
            "content": "Why OFFSET gets slower, and what to pass back instead.",
            "status": "published",
            "category_id": 1,
        },
    },
}


@router.post(
    "",
    status_code=http_status.HTTP_201_CREATED,
    summary="Write a post",
    responses=problem_responses(429, *BODY_ERRORS, 401, 409),
    dependencies=[Depends(write_limit("posts"))],
)
async def create_post(
    data: Annotated[PostCreate, Body(openapi_examples=POST_EXAMPLES)], session: SessionDep, user: CurrentUser
) -> PostRead:
    """Write a post (any logged-in user; a draft unless `status` says otherwise).
    An unknown `category_id` is a 409 naming the rule."""
    return await service.create_post(session, user, data)


@router.get("", summary="List posts", responses=problem_responses(401), openapi_extra=OPTIONAL_AUTH)
async def list_posts(
    session: SessionDep,
    reads: ReadsDep,
    user: OptionalUser,
    status: Annotated[
        PostStatus | None, Query(description="only posts in this status (drafts: yours, or everyone's for admins)")
    ] = None,
    author_id: Annotated[RowId | None, Query(description="only this author's posts")] = None,
    category_id: Annotated[RowId | None, Query(description="only posts in this category")] = None,
    include_subcategories: Annotated[bool, Query(description="with category_id: its whole subtree too")] = False,
    q: Annotated[
        StoredText | None,
        Query(
            min_length=3,
            max_length=200,
            description="title contains (any case). Only terms the trigram title index can serve (a shorter"
            " or blank one would read every post): at least 3 characters, with 3 letters or digits in a row or"
            " 1 or 2 beside a space or punctuation mark; 422 naming `query.q` otherwise (rule"
            " search_term_indexable for the second)",
            openapi_examples={"async": {"summary": 'Titles containing "async"', "value": "async"}},
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")] = DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
) -> Page[PostRead]:
    """Posts the caller may see (published ones, their own, or all for admins), newest first,
    one keyset page at a time."""
    filters = PostFilters(
        status=status, author_id=author_id, category_id=category_id, include_subcategories=include_subcategories, q=q
    )
    if user is not None:  # a signed-in caller lists their own drafts: from the primary, never stale
        return await queries.list_posts(session, user, filters, limit=limit, cursor=cursor)
    return await reads.run(lambda replica: queries.list_posts(replica, None, filters, limit=limit, cursor=cursor))


@router.get("/{post_id}", summary="Read a post", responses=problem_responses(401, 404), openapi_extra=OPTIONAL_AUTH)
async def read_post(post_id: RowId, session: SessionDep, user: OptionalUser) -> PostRead:
    """One post; a post the caller may not see answers 404, as if it did not exist."""
    return await queries.read_post(session, post_id, user)


@router.patch("/{post_id}", summary="Change a post", responses=problem_responses(*BODY_ERRORS, 401, 403, 404, 409))
async def update_post(post_id: RowId, data: PostUpdate, session: SessionDep, user: CurrentUser) -> PostRead:
    """Change a post (its author or an admin); only the fields sent change."""
    return await service.update_post(session, post_id, user, data)


@router.delete(
    "/{post_id}",
    status_code=http_status.HTTP_204_NO_CONTENT,
    summary="Delete a post",
    responses=problem_responses(401, 403, 404),
)
async def delete_post(post_id: RowId, session: SessionDep, user: CurrentUser) -> None:
    """Delete a post and its comments (its author or an admin)."""
    await service.delete_post(session, post_id, user)
