"""Where Redis is, and the connection pool every Guildhall client is built on (the API's job pool,
the workers, the ops views, the CLI).

Two topologies:
- **One address** (REDIS_URL): a single server, or a managed Redis that fails over behind one
  address. A demoted node answers READONLY; redis-py raises that as a plain ResponseError and never
  retries it, so a client kept writing to the old master for ever. Here a READONLY answer drops the
  connection and raises ConnectionError, which the pools' retry (and the workers' poll loop) turn
  into a reconnect: to the new master, once the address points at it.
- **Sentinels** (REDIS_SENTINELS, REDIS_SENTINEL_MASTER): the master is looked up through the
  sentinels at every connect, and redis-py's Sentinel-managed connections do the READONLY drop
  themselves. arq's own `RedisSettings(sentinel=True)` drops the connect timeout and the retries on
  that path (arq/connections.py), so the pool is built here, with the same bounds as a URL's.

The master's db index, username and password still come from REDIS_URL (its host and port are not
used with sentinels).
"""

from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import Connection, SSLConnection, parse_url
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import ConnectionError, ReadOnlyError

from shared.settings import Settings


class _DropOnReadOnly(Connection):
    """Mixin for a connection to one address: READONLY means the node was demoted under us. A
    Connection itself, so that its methods are typed; before SSLConnection in the MRO of the SSL one."""

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)
        except ReadOnlyError:
            await self.disconnect()
            raise ConnectionError("the Redis server is now a replica (READONLY): reconnecting") from None


class FailoverAwareConnection(_DropOnReadOnly, Connection):
    pass


class FailoverAwareSSLConnection(_DropOnReadOnly, SSLConnection):
    pass


class SentinelPool(SentinelConnectionPool):
    """A Sentinel-managed pool that also closes its clients of the sentinels when it is closed
    (redis-py's leaves them open: one leaked connection per sentinel asked)."""

    async def disconnect(self, inuse_connections: bool = True) -> None:
        await super().disconnect(inuse_connections)
        if inuse_connections:  # a full close, not the idle sweep done when the master moves
            for sentinel in self.sentinel_manager.sentinels:
                await sentinel.aclose()


@dataclass(frozen=True)
class RedisTarget:
    """Where the Redis master is: a URL, or sentinels that know it by name."""

    url: str
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> "RedisTarget":
        sentinels: tuple[tuple[str, int], ...] = ()
        if settings.redis_sentinels:
            pairs = (item.strip().rpartition(":") for item in settings.redis_sentinels.split(","))
            sentinels = tuple((host, int(port)) for host, _, port in pairs)
        password = settings.redis_sentinel_password
        return cls(
            url=settings.redis_url,
            sentinels=sentinels,
            master=settings.redis_sentinel_master,
            sentinel_password=password.get_secret_value() if password else None,
        )

    def describe(self) -> str:
        """For messages: where the clients look (no password)."""
        from shared.urls import redact

        if not self.sentinels:
            return redact(self.url)
        where = ",".join(f"{host}:{port}" for host, port in self.sentinels)
        return f"master {self.master!r} of sentinels {where}"

    @property
    def env_var(self) -> str:
        return "REDIS_SENTINELS" if self.sentinels else "REDIS_URL"


def as_target(where: "RedisTarget | str") -> RedisTarget:
    return where if isinstance(where, RedisTarget) else RedisTarget(url=where)


def connection_pool(where: RedisTarget | str, **options: Any) -> ConnectionPool:
    """A pool to the current master. `options` are redis-py connection options (timeouts, retry,
    retry_on_error), applied to the master's connections in both topologies; the sentinels are
    asked with the same timeouts."""
    target = as_target(where)
    url_options: dict[str, Any] = dict(parse_url(target.url))
    if not target.sentinels:
        connection_class = url_options.pop("connection_class", Connection)
        if connection_class is Connection:
            url_options["connection_class"] = FailoverAwareConnection
        elif connection_class is SSLConnection:
            url_options["connection_class"] = FailoverAwareSSLConnection
        else:  # a unix socket: one local server, nothing to fail over to
            url_options["connection_class"] = connection_class
        return ConnectionPool(**{**options, **url_options})
    for address in ("host", "port", "path"):
        url_options.pop(address, None)
    ssl = url_options.pop("connection_class", None) is SSLConnection
    timeouts: dict[str, Any] = {k: options[k] for k in ("socket_timeout", "socket_connect_timeout") if k in options}
    sentinel_kwargs: dict[str, Any] = {**timeouts, "password": target.sentinel_password}
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=sentinel_kwargs)  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
    assert target.master is not None  # Settings refuses sentinels without a master name
    return SentinelPool(target.master, sentinel, ssl=ssl, **{**options, **url_options})  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated


def client(where: RedisTarget | str, **options: Any) -> Redis:
    """A plain redis-py client on its own pool (closed with the client)."""
    return Redis.from_pool(connection_pool(where, **options))
