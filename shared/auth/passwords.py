"""Password hashing with pwdlib's recommended hasher (argon2id); no home-made crypto."""

from pwdlib import PasswordHash

_hasher = PasswordHash.recommended()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    return _hasher.verify(password, hashed)


# Verified against when the username is unknown, so a login takes as long either way
# and response times do not reveal which usernames exist.
DUMMY_HASH = hash_password("guildhall-dummy-password")
