"""Users: who am I, my password, and (admins) creating and changing accounts."""

from fastapi import APIRouter, Request, status

from services.api.deps import AdminUser, CurrentUser, RateLimitsDep, SessionDep, SettingsDep, client_address
from services.api.problems import BODY_ERRORS, problem_responses
from shared.auth.throttle import LoginThrottle
from shared.auth.tokens import create_access_token
from shared.errors import PermissionDenied
from shared.schemas import RowId
from shared.users.schemas import PasswordChange, Token, UserCreate, UserRead, UserUpdate
from shared.users.service import change_password, create_user, get_user, update_user

router = APIRouter(prefix="/users", tags=["users"], responses=problem_responses(401))


@router.get("/me", summary="Read my account")
async def read_me(user: CurrentUser, session: SessionDep) -> UserRead:
    """The signed-in caller's own user record (any role)."""
    return UserRead.model_validate(await get_user(session, user.id))


@router.post("/me/password", summary="Change my password", responses=problem_responses(*BODY_ERRORS, 403, 429))
async def set_my_password(
    data: PasswordChange,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    limits: RateLimitsDep,
) -> Token:
    """Change my password (the current one is required, and throttled as logins are; a wrong one is
    a 403). Every token issued before is revoked, this one included; the response carries a new one."""
    throttle = LoginThrottle(limits, settings)
    address = client_address(request)
    await throttle.refuse_if_exhausted(user.username, address)
    changed = await change_password(session, user, data.current_password, data.new_password)
    if changed is None:
        await throttle.failed(user.username, address)
        raise PermissionDenied("the current password is wrong")
    request.app.state.caller_cache.forget_user(user.id)
    token, expires_in = create_access_token(user.id, settings, generation=changed.token_generation)
    return Token(access_token=token, expires_in=expires_in)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a user",
    responses=problem_responses(*BODY_ERRORS, 403, 409),
)
async def create(data: UserCreate, session: SessionDep, admin: AdminUser) -> UserRead:
    """Create an account (admins only). A taken username or email is a 409."""
    return UserRead.model_validate(await create_user(session, data))


@router.get("/{user_id}", summary="Read a user", responses=problem_responses(403, 404))
async def read(user_id: RowId, session: SessionDep, admin: AdminUser) -> UserRead:
    """Any user's record (admins only; everyone sees their own at /users/me)."""
    return UserRead.model_validate(await get_user(session, user_id))


@router.patch(
    "/{user_id}", summary="Deactivate a user or change their role", responses=problem_responses(*BODY_ERRORS, 403, 404)
)
async def update(user_id: RowId, data: UserUpdate, request: Request, session: SessionDep, admin: AdminUser) -> UserRead:
    """Deactivate or reactivate a user, or change their role (admins only). Either revokes the
    user's tokens: they answer 401 on every API process within a few seconds (the server's
    CALLER_CACHE_SECONDS)."""
    user = await update_user(session, admin, user_id, data)
    request.app.state.caller_cache.forget_user(user_id)
    return UserRead.model_validate(user)
