"""Comments: written by logged-in users, held pending until moderated, public once approved."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, status

from services.api.deps import (
    OPTIONAL_AUTH,
    CurrentUser,
    CursorParam,
    ModeratorUser,
    OptionalUser,
    SessionDep,
    write_limit,
)
from services.api.problems import BODY_ERRORS, problem_responses
from shared.auth.access import is_moderator
from shared.blog import comment_queries, service
from shared.blog.queries import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from shared.blog.schemas import CommentCreate, CommentModeratedRead, CommentRead, CommentUpdate, ModerationDecision
from shared.schemas import Page, RowId

router = APIRouter(tags=["comments"])

COMMENT_EXAMPLES = {"comment": {"summary": "A comment (pending until moderated)", "value": {"content": "Great post!"}}}


@router.post(
    "/posts/{post_id}/comments",
    status_code=status.HTTP_201_CREATED,
    summary="Comment on a post",
    responses=problem_responses(429, *BODY_ERRORS, 401, 404),
    dependencies=[Depends(write_limit("comments"))],
)
async def create_comment(
    post_id: RowId,
    data: Annotated[CommentCreate, Body(openapi_examples=COMMENT_EXAMPLES)],
    session: SessionDep,
    user: CurrentUser,
) -> CommentModeratedRead:
    """Comment on a post the caller may see. The comment starts pending; the request for its
    moderation is recorded in the same transaction and carried out by the worker."""
    return await service.create_comment(session, post_id, user, data)


@router.get(
    "/posts/{post_id}/comments",
    summary="List a post's comments",
    responses=problem_responses(401, 404),
    openapi_extra=OPTIONAL_AUTH,
)
async def list_comments(
    post_id: RowId,
    session: SessionDep,
    user: OptionalUser,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")] = DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
) -> Page[CommentModeratedRead] | Page[CommentRead]:
    """A post's approved comments, oldest first. Moderators and admins see every comment,
    with its moderation state, reason and time."""
    return await comment_queries.list_comments(
        session, post_id, user, with_moderation=is_moderator(user), limit=limit, cursor=cursor
    )


@router.patch(
    "/comments/{comment_id}/moderation",
    summary="Approve or reject a comment",
    responses=problem_responses(*BODY_ERRORS, 401, 403, 404),
)
async def moderate_comment(
    comment_id: RowId, decision: ModerationDecision, session: SessionDep, moderator: ModeratorUser
) -> CommentModeratedRead:
    """Approve or reject a comment (moderators and admins); rejecting needs a reason."""
    return await service.moderate_comment(session, comment_id, moderator, decision)


@router.patch(
    "/comments/{comment_id}", summary="Edit a comment", responses=problem_responses(*BODY_ERRORS, 401, 403, 404)
)
async def edit_comment(
    comment_id: RowId, data: CommentUpdate, session: SessionDep, user: CurrentUser
) -> CommentModeratedRead:
    """Rewrite a comment (its author or an admin); changed text goes back to moderation."""
    return await service.edit_comment(session, comment_id, user, data)


@router.delete(
    "/comments/{comment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a comment",
    responses=problem_responses(401, 403, 404),
)
async def delete_comment(comment_id: RowId, session: SessionDep, user: CurrentUser) -> None:
    """Delete a comment (its author or an admin)."""
    await service.delete_comment(session, comment_id, user)
