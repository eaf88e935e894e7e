"""The users domain's SQL: finding an account by name, and the revocation list logouts write."""

from datetime import datetime

from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.models.auth import RevokedToken
from shared.models.users import User


async def user_named(session: AsyncSession, username: str) -> User | None:
    """The account with this username (unique: uq_user_account_username), active or not."""
    return (await session.exec(select(User).where(col(User.username) == username))).first()


async def revoke(session: AsyncSession, *, token_id: str, user_id: int, expires_at: datetime) -> None:
    """Put a token on the revocation list; revoking it twice is revoking it once."""
    await session.exec(
        insert(RevokedToken)
        .values(jti=token_id, user_id=user_id, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["jti"])
    )


async def forget_expired_revocations(session: AsyncSession) -> None:
    """Drop the revocations of tokens past their expiry, which are refused anyway (one DELETE,
    served by ix_revoked_token_expires_at)."""
    await session.exec(delete(RevokedToken).where(col(RevokedToken.expires_at) < func.now()))
