"""Creating users and checking their credentials."""

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.passwords import DUMMY_HASH, hash_password, verify_password
from shared.db import flush
from shared.errors import NotFound
from shared.models import User
from shared.users.schemas import UserCreate


async def create_user(session: AsyncSession, data: UserCreate) -> User:
    user = User(
        username=data.username,
        email=data.email,
        hashed_password=hash_password(data.password),
        role=data.role,
    )
    session.add(user)
    await flush(session)  # a taken username or email becomes a ConstraintViolation (409)
    return user


async def authenticate(session: AsyncSession, username: str, password: str) -> User | None:
    """The active user with these credentials, or None (same work whether or not the name exists)."""
    user = (await session.exec(select(User).where(col(User.username) == username))).first()
    if user is None:
        verify_password(password, DUMMY_HASH)
        return None
    if not verify_password(password, user.hashed_password) or not user.is_active:
        return None
    return user


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user
