"""JWT access tokens (PyJWT, HS256). The token names the user only; whether the user is still
active, and its role, are read from the database (shared.auth.callers: at most CALLER_CACHE_SECONDS
old), so a deactivation or demotion takes effect within seconds, whatever the token's lifetime."""

import time
from datetime import timedelta
from functools import lru_cache

import jwt

from shared.models.base import now_utc
from shared.schemas import INT4_MAX
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


clock = time.time  # replaced by tests that need a token to expire


def user_id_from_token(token: str, settings: Settings) -> int:
    user_id, expires_at = _verified(token, settings.secret_key.get_secret_value())
    # The signature was checked once (cached below); the expiry is checked on every use.
    if clock() >= expires_at:
        raise InvalidToken("Signature has expired")
    return user_id


# A verified token's (user id, expiry) by token text: the HMAC and JSON work is done once per
# token, not once per request. Only valid tokens are cached (a raise is never cached).
@lru_cache(maxsize=10_000)
def _verified(token: str, secret: str) -> tuple[int, float]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "sub", "aud"]},
        )
        user_id = int(claims["sub"])
        # A subject no user row can have (the ids are PostgreSQL INTEGERs) is a bad token (401),
        # not a query the database refuses (it answered 422 from the safety net).
        if not 1 <= user_id <= INT4_MAX:
            raise ValueError(f"subject {user_id} is not a user id")
        return user_id, float(claims["exp"])
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise InvalidToken(str(error)) from error
