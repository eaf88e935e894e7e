"""Users: who am I, and (admins) creating accounts."""

from fastapi import APIRouter, status

from services.api.deps import AdminUser, CurrentUser, SessionDep
from services.api.problems import BODY_ERRORS, problem_responses
from shared.schemas import RowId
from shared.users.schemas import UserCreate, UserRead
from shared.users.service import create_user, get_user

router = APIRouter(prefix="/users", tags=["users"], responses=problem_responses(401, 403, 422))


@router.get("/me")
async def read_me(user: CurrentUser, session: SessionDep) -> UserRead:
    return UserRead.model_validate(await get_user(session, user.id))


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(*BODY_ERRORS, 409))
async def create(data: UserCreate, session: SessionDep, admin: AdminUser) -> UserRead:
    """Create an account (admins only). A taken username or email is a 409."""
    return UserRead.model_validate(await create_user(session, data))


@router.get("/{user_id}", responses=problem_responses(404))
async def read(user_id: RowId, session: SessionDep, admin: AdminUser) -> UserRead:
    """Any user's record (admins only; everyone sees their own at /users/me)."""
    return UserRead.model_validate(await get_user(session, user_id))
