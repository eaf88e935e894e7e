"""The test Redis is real and on its own DB index."""

from redis.asyncio import Redis

from tests.conftest import redis_url_for_tests


async def test_redis_round_trip_on_the_test_db_index(redis: Redis) -> None:
    assert redis_url_for_tests().rsplit("/", 1)[-1] != "0"
    key = "guildhall:test:ping"
    try:
        await redis.set(key, "pong", ex=30)
        assert await redis.get(key) == b"pong"
    finally:
        await redis.delete(key)
