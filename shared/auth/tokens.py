"""JWT access tokens (PyJWT, HS256).

A token names its user, the user's token generation, its own id (`jti`) and its issue and expiry
times. Whether it still counts is read from the database (shared.auth.callers, at most
CALLER_CACHE_SECONDS old): the user must be active, still in that generation (a password change,
a deactivation or a role change moves it on, revoking every earlier token), and the token's id must
not have been revoked by a logout.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

import jwt

from shared.models.base import now_utc
from shared.schemas import INT4_MAX
from shared.settings import Settings

ALGORITHM = "HS256"
AUDIENCE = "guildhall-api"
# Clocks of the processes that issue and check a token may differ by this much.
LEEWAY_SECONDS = 5


class InvalidToken(Exception):
    pass


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    generation: int
    token_id: str
    issued_at: float
    expires_at: float


def create_access_token(user_id: int, settings: Settings, *, generation: int = 0) -> tuple[str, int]:
    """A signed token for `user_id` (in its token `generation`) and its lifetime in seconds."""
    lifetime = timedelta(minutes=settings.access_token_minutes)
    now = now_utc()
    claims = {
        "sub": str(user_id),
        "gen": generation,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + lifetime,
        "aud": AUDIENCE,
    }
    token = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=ALGORITHM)
    return token, int(lifetime.total_seconds())


clock = time.time  # replaced by tests that need a token to expire


def verify_token(token: str, settings: Settings) -> TokenClaims:
    claims = _verified(token, settings.secret_key.get_secret_value(), settings.access_token_minutes * 60)
    # The signature was checked once (cached below); the expiry is checked on every use.
    if clock() >= claims.expires_at:
        raise InvalidToken("Signature has expired")
    return claims


# A verified token's claims by token text: the HMAC and JSON work is done once per token, not once
# per request. Only valid tokens are cached (a raise is never cached).
@lru_cache(maxsize=10_000)
def _verified(token: str, secret: str, max_lifetime_seconds: int) -> TokenClaims:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "aud", "jti", "gen"]},
        )
        user_id = int(claims["sub"])
        # A subject no user row can have (the ids are PostgreSQL INTEGERs) is a bad token (401),
        # not a query the database refuses (it answered 422 from the safety net).
        if not 1 <= user_id <= INT4_MAX:
            raise ValueError(f"subject {user_id} is not a user id")
        issued_at, expires_at = float(claims["iat"]), float(claims["exp"])
        # A token signed with the key but with a lifetime we never issue (10 years, say) is forged
        # or from a leaked key's holder: refuse it whatever its signature says.
        if expires_at - issued_at > max_lifetime_seconds + LEEWAY_SECONDS:
            raise ValueError("the token's lifetime exceeds ACCESS_TOKEN_MINUTES")
        token_id, generation = claims["jti"], claims["gen"]
        if not isinstance(token_id, str) or not 1 <= len(token_id) <= 64 or not isinstance(generation, int):
            raise ValueError("malformed jti or gen claim")
        if not 0 <= generation <= INT4_MAX:
            raise ValueError("gen out of range")
        return TokenClaims(user_id, generation, token_id, issued_at, expires_at)
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise InvalidToken(str(error)) from error
