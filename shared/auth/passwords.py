"""Password hashing with pwdlib's recommended hasher (argon2id); no home-made crypto.

argon2id costs ~50 ms of a core by design. On the event loop it would stall every other request of
the process (4 concurrent logins took /healthz from 3 ms to 108 ms), so the async functions run it
in a thread, at most PASSWORD_HASHES_AT_ONCE at a time per process: more only queue for the cores.
"""

import asyncio
import weakref
from functools import cache

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError

from shared.settings import get_settings

_hasher = PasswordHash.recommended()
# argon2 computations of this process (hashes and verifications): what a throttled login must not add to.
computed = 0


def hash_password(password: str) -> str:
    global computed
    computed += 1
    return _hasher.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    """False for a wrong password, and for a stored value that is no hash pwdlib knows (an account
    whose password was never set, say): never an error a caller could turn into a 500."""
    global computed
    computed += 1
    try:
        return _hasher.verify(password, hashed)
    except UnknownHashError:
        return False


@cache
def dummy_hash() -> str:
    """Verified against when the username is unknown, so a login takes as long either way and
    response times do not reveal which usernames exist. Made on first use, not at import (every
    CLI command would pay for it)."""
    return hash_password("guildhall-dummy-password")


# One bound per event loop (a semaphore belongs to the loop it first waits on; the CLI runs a loop
# per command, tests one per session).
_slots: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = weakref.WeakKeyDictionary()


def _slots_here() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(get_settings().password_hashes_at_once)
    return slots


async def hash_password_async(password: str) -> str:
    async with _slots_here():
        return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password: str, hashed: str) -> bool:
    async with _slots_here():
        return await asyncio.to_thread(verify_password, password, hashed)
