"""Revoked access tokens: one row per logout, kept until the token would have expired anyway."""

from datetime import datetime

from sqlalchemy import DateTime, Index, String
from sqlmodel import Field, SQLModel

import shared.models.base  # noqa: F401  (the naming convention, before this table is defined)


class RevokedToken(SQLModel, table=True):
    __tablename__ = "revoked_token"
    # The pruning after each logout deletes by expiry.
    __table_args__ = (Index("ix_revoked_token_expires_at", "expires_at"),)

    jti: str = Field(sa_type=String(64), primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
