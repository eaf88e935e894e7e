"""The ops reads' Batch: one round trip, each reply read back by its name, and a name queued
without exactly one command refused before anything is sent."""

import pytest
from arq import ArqRedis

from shared.ops.batch import Batch, decoded_hash, int_of, text


async def test_each_reply_is_read_back_by_its_name_whatever_the_order(job_pool: ArqRedis) -> None:
    await job_pool.hset("guildhall:test:hash", mapping={"a": "1"})
    await job_pool.zadd("guildhall:test:zset", {"x": 5})
    batch = Batch(job_pool)
    batch("score", "x").zscore("guildhall:test:zset", "x")
    batch("hash").hgetall("guildhall:test:hash")
    batch("score", "y").zscore("guildhall:test:zset", "y")
    replies = await batch.execute()
    assert (replies["score", "x"], replies["score", "y"]) == (5.0, None)
    assert decoded_hash(replies["hash"]) == {"a": "1"}


def test_a_name_needs_exactly_one_command(job_pool: ArqRedis) -> None:
    batch = Batch(job_pool)
    batch("first")
    with pytest.raises(RuntimeError, match="exactly one command"):
        batch("second")
    twice = Batch(job_pool)
    twice("one").get("a").get("b")
    with pytest.raises(RuntimeError, match="exactly one command"):
        twice("two")


async def test_two_commands_under_one_name_are_refused(job_pool: ArqRedis) -> None:
    batch = Batch(job_pool)
    batch("same").get("a")
    batch("same").get("b")
    with pytest.raises(RuntimeError, match="one name"):
        await batch.execute()


def test_replies_decode_as_text_and_counters() -> None:
    assert (text(b"caf\xc3\xa9"), text(None), text("s")) == ("café", None, "s")
    assert (int_of("12"), int_of(None), int_of("x", 7), int_of(None, 3)) == (12, 0, 7, 3)
