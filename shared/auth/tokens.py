"""JWT access tokens (PyJWT, HS256). The token names the user only; whether the user is still
active, and its role, are read from the database (shared.auth.callers: at most CALLER_CACHE_SECONDS
old), so a deactivation or demotion takes effect within seconds, whatever the token's lifetime."""

from datetime import timedelta

import jwt

from shared.models.base import now_utc
from shared.settings import Settings

ALGORITHM = "HS256"
AUDIENCE = "guildhall-api"


class InvalidToken(Exception):
    pass


def create_access_token(user_id: int, settings: Settings) -> tuple[str, int]:
    """A signed token for `user_id` and its lifetime in seconds."""
    lifetime = timedelta(minutes=settings.access_token_minutes)
    now = now_utc()
    claims = {"sub": str(user_id), "iat": now, "exp": now + lifetime, "aud": AUDIENCE}
    token = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=ALGORITHM)
    return token, int(lifetime.total_seconds())


def user_id_from_token(token: str, settings: Settings) -> int:
    try:
        claims = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "sub", "aud"]},
        )
        return int(claims["sub"])
    except (jwt.PyJWTError, ValueError) as error:
        raise InvalidToken(str(error)) from error
