"""Queue names, which job runs on which queue, and the arq pool both processes use.

Two queues with their own workers: long bulk jobs cannot delay short ones, and the
short queue's worker keeps a short job timeout, so a short job stuck by a crashed
worker (arq holds it "in progress" for its worker's longest timeout + 10 s) is
retried within seconds, not minutes.
"""

from enum import StrEnum

from arq import ArqRedis
from arq.connections import RedisSettings
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError

from shared.jobs.serialization import deserialize, serialize
from shared.redis_connect import RedisTarget, connection_pool


class Queue(StrEnum):
    short = "guildhall:short"
    bulk = "guildhall:bulk"


def redis_settings(url: str) -> RedisSettings:
    """The workers' Redis settings (arq's form; `guildhall worker` passes create_worker_pool's pool,
    which adds a socket timeout arq's settings cannot express). A lost connection is retried a few
    times with backoff inside each command; a longer outage, and every other fault, is the poll
    loop's to ride out (services.worker.resilient), so no command blocks without bound."""
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 1
    settings.retry_on_error = [ConnectionError, TimeoutError, OSError]
    settings.retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=COMMAND_RETRIES)
    return settings


COMMAND_RETRIES = 5
REDIS_TIMEOUT = 2.0


def create_job_pool(where: RedisTarget | str) -> ArqRedis:
    """An arq client that connects lazily: the API starts (and /readyz says 503) while Redis is
    down, instead of failing at start-up the way arq.create_pool does. `where`: a URL, or the
    settings' RedisTarget (sentinels; shared.redis_connect)."""
    pool = connection_pool(
        where,
        socket_connect_timeout=REDIS_TIMEOUT,
        socket_timeout=REDIS_TIMEOUT,
        # One quick retry of a dropped connection: a demoted master's READONLY (or a failover's
        # reset) is then one reconnect to the new master, not a failed enqueue. Not on timeouts:
        # a server that does not answer must cost a request REDIS_TIMEOUT once, not twice.
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1),
        retry_on_error=[ConnectionError],
    )
    client = ArqRedis(
        connection_pool=pool,
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=Queue.short,
    )
    client.auto_close_connection_pool = True  # the pool is this client's alone: aclose() closes it
    return client


WORKER_SOCKET_TIMEOUT = 10.0


def create_worker_pool(where: RedisTarget | str, *, socket_timeout: float = WORKER_SOCKET_TIMEOUT) -> ArqRedis:
    """A worker's client: a server that stops answering (DEBUG SLEEP, a partition) times out after
    WORKER_SOCKET_TIMEOUT instead of holding the poll loop, and lost connections (a demoted master's
    READONLY included) are retried a few times per command (see redis_settings); the resilient loop
    does the rest."""
    settings = redis_settings(as_url(where))
    pool = connection_pool(
        where,
        socket_connect_timeout=settings.conn_timeout,
        socket_timeout=socket_timeout,
        retry=settings.retry,
        retry_on_error=settings.retry_on_error,
    )
    client = ArqRedis(connection_pool=pool, job_serializer=serialize, job_deserializer=deserialize)
    client.auto_close_connection_pool = True
    return client


def as_url(where: RedisTarget | str) -> str:
    return where.url if isinstance(where, RedisTarget) else where
