"""Creating users, checking their credentials, and revoking their tokens."""

from datetime import UTC, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.callers import Caller
from shared.auth.passwords import dummy_hash, hash_password_async, verify_password_async
from shared.db import flush
from shared.errors import NotFound, PermissionDenied
from shared.models.users import User
from shared.users import queries
from shared.users.schemas import UserCreate, UserUpdate


async def create_user(session: AsyncSession, data: UserCreate) -> User:
    user = User(
        username=data.username,
        email=data.email,
        hashed_password=await hash_password_async(data.password),
        role=data.role,
    )
    session.add(user)
    await flush(session)  # a taken username or email becomes a ConstraintViolation (409)
    return user


async def authenticate(session: AsyncSession, username: str, password: str) -> User | None:
    """The active user with these credentials, or None (same work whether or not the name exists)."""
    user = await queries.user_named(session, username)
    if user is None:
        await verify_password_async(password, dummy_hash())
        return None
    if not await verify_password_async(password, user.hashed_password) or not user.is_active:
        return None
    return user


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


async def change_password(session: AsyncSession, caller: Caller, current: str, new: str) -> User | None:
    """Set `new` if `current` is the caller's password (else None, nothing changed); every token
    issued before is revoked (the generation moves on)."""
    user = await get_user(session, caller.id)
    if not await verify_password_async(current, user.hashed_password):
        return None
    user.hashed_password = await hash_password_async(new)
    user.token_generation += 1
    await flush(session)
    return user


async def update_user(session: AsyncSession, admin: Caller, user_id: int, data: UserUpdate) -> User:
    """An admin deactivates (or reactivates) a user or changes their role; either revokes the
    user's tokens, so the old rights end within CALLER_CACHE_SECONDS on every process."""
    user = await get_user(session, user_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if user_id == admin.id and (changes.get("is_active") is False or changes.get("role", user.role) != user.role):
        raise PermissionDenied("an admin cannot deactivate or demote themselves (ask another admin)")
    changed = {name: value for name, value in changes.items() if getattr(user, name) != value}
    for name, value in changed.items():
        setattr(user, name, value)
    if changed:
        user.token_generation += 1
    await flush(session)
    return user


async def revoke_token(session: AsyncSession, caller: Caller) -> None:
    """Log out: the caller's token is refused from now on (within CALLER_CACHE_SECONDS elsewhere).
    Rows of tokens past their expiry are dropped here (they would be refused anyway): the table
    holds at most the tokens revoked within one token lifetime."""
    expires_at = datetime.fromtimestamp(caller.token_expires_at, UTC)
    await queries.revoke(session, token_id=caller.token_id, user_id=caller.id, expires_at=expires_at)
    await queries.forget_expired_revocations(session)
