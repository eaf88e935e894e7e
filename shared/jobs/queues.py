"""Queue names, which job runs on which queue, and the arq pool both processes use.

Two queues with their own workers: long bulk jobs cannot delay short ones, and the
short queue's worker keeps a short job timeout, so a short job stuck by a crashed
worker (arq holds it "in progress" for its worker's longest timeout + 10 s) is
retried within seconds, not minutes.
"""

from enum import StrEnum

from arq import ArqRedis
from arq.connections import RedisSettings
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError

from shared.jobs.serialization import deserialize, serialize


class Queue(StrEnum):
    short = "guildhall:short"
    bulk = "guildhall:bulk"


# Job function name -> queue. The API enqueues by name; the worker registers the functions.
FUNCTION_QUEUES: dict[str, Queue] = {
    "process_outbox_message": Queue.short,
    "bulk_update_heroes": Queue.bulk,
    "bulk_delete_heroes": Queue.bulk,
    "bulk_post_operation": Queue.bulk,
}


def redis_settings(url: str) -> RedisSettings:
    """The workers' Redis settings. A worker outlives a Redis outage: every command retries on a
    lost connection, forever, with backoff up to 2 s; arq would otherwise let the first
    ConnectionError of its poll loop end the process, and the work would wait for a restart."""
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 1
    settings.retry_on_error = [ConnectionError, TimeoutError, OSError]
    settings.retry = Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=-1)
    return settings


REDIS_TIMEOUT = 2.0


def create_job_pool(url: str) -> ArqRedis:
    """An arq client that connects lazily: the API starts (and /readyz says 503) while Redis is
    down, instead of failing at start-up the way arq.create_pool does."""
    pool = ConnectionPool.from_url(url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)
    client = ArqRedis(
        connection_pool=pool,
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=Queue.short,
    )
    client.auto_close_connection_pool = True  # the pool is this client's alone: aclose() closes it
    return client
