"""Failed logins, throttled (OWASP's authentication guidance): per account from one client address,
and per client address over every account. Checked before any password is hashed, so a throttled
guess costs no argon2 work.

The account's limit is counted per address on purpose: an attacker guessing the admin's password
from one address is stopped there, and the admin, signing in from another, is not locked out. A
guesser spread over many addresses meets each address's limit and argon2's cost per guess.
A successful login clears its account's count for that address.
"""

from shared.errors import TooManyRequests
from shared.rate_limits import RateLimits, parse
from shared.settings import Settings


class LoginThrottle:
    def __init__(self, limits: RateLimits, settings: Settings) -> None:
        self._limits = limits
        self._per_account = parse(settings.login_failures_per_account)
        self._per_address = parse(settings.login_failures_per_address)

    @staticmethod
    def _account(username: str, address: str) -> tuple[str, str, str]:
        return "login-account", username.casefold(), address

    async def refuse_if_exhausted(self, username: str, address: str) -> None:
        for limits, key, what in (
            (self._per_address, ("login-address", address), "from this address"),
            (self._per_account, self._account(username, address), "for this account from this address"),
        ):
            verdict = await self._limits.check(limits, *key)
            if not verdict.allowed:
                raise TooManyRequests(
                    f"too many failed logins {what}; retry after {verdict.retry_after_seconds} s",
                    retry_after_seconds=verdict.retry_after_seconds,
                    rule="login_throttled",
                )

    async def failed(self, username: str, address: str) -> None:
        await self._limits.hit(self._per_address, "login-address", address)
        await self._limits.hit(self._per_account, *self._account(username, address))

    async def succeeded(self, username: str, address: str) -> None:
        await self._limits.clear(self._per_account, *self._account(username, address))
