"""A weak SECRET_KEY is refused at start-up, whatever the environment: one repeated character, a
repeated block, too few distinct characters, or the repository's development key outside
development (tests/e2e/test_api_start_refusals.py drives the real command)."""

import secrets

import pytest
from pydantic import ValidationError

from shared.settings import DEVELOPMENT_SECRET, Settings


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("a" * 40, "only 1 distinct characters"),
        ("abcd" * 10, "only 4 distinct characters"),
        ("0123456789abcdef" * 3, "a repeated 16-character block"),
        ("short-but-random-7Qx", "at least 32 characters"),
    ],
)
@pytest.mark.parametrize("environment", ["development", "production"])
def test_a_weak_key_is_refused(key: str, why: str, environment: str) -> None:
    with pytest.raises(ValidationError, match=why):
        Settings(environment=environment, secret_key=key)  # type: ignore[arg-type]


def test_a_random_key_is_accepted_and_the_development_key_only_in_development() -> None:
    assert Settings(environment="production", secret_key=secrets.token_urlsafe(48))  # type: ignore[arg-type]
    assert Settings(environment="development", secret_key=DEVELOPMENT_SECRET).uses_development_secret  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="SECRET_KEY must be set"):
        Settings(environment="production", secret_key=DEVELOPMENT_SECRET)  # type: ignore[arg-type]
