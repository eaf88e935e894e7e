"""A tag inserted while its article is being deleted never survives as an orphan.

Two real transactions on two connections: the tag trigger locks the article FOR KEY SHARE
(as a foreign key check would), so the DELETE waits for the tag's commit and its
statement-level trigger then removes that tag too.
"""

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def _waits_on_a_lock(engine: AsyncEngine, pid: int) -> bool:
    # A fresh transaction each time: pg_stat_activity is a snapshot taken once per transaction.
    async with engine.connect() as observer:
        query = text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid")
        return bool((await observer.execute(query, {"pid": pid})).scalar_one())


async def test_a_concurrent_tag_insert_and_article_delete_leave_no_orphan(engine: AsyncEngine) -> None:
    async with engine.begin() as setup:
        author = (
            await setup.execute(
                text(
                    "INSERT INTO user_account (username, email, hashed_password) "
                    "VALUES ('race-author', 'race@example.com', 'x') RETURNING id"
                )
            )
        ).scalar_one()
        article = (
            await setup.execute(
                text("INSERT INTO article (title, content, author_id) VALUES ('race', '...', :a) RETURNING id"),
                {"a": author},
            )
        ).scalar_one()
    try:
        async with engine.connect() as tagger, engine.connect() as deleter:
            await tagger.begin()
            await tagger.execute(
                text("INSERT INTO tag (name, taggable_type, taggable_id) VALUES ('late', 'article', :id)"),
                {"id": article},
            )
            await deleter.begin()
            deleter_pid = (await deleter.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            deleting = asyncio.create_task(deleter.execute(text("DELETE FROM article WHERE id = :id"), {"id": article}))
            # Proven, not timed: the server shows the DELETE's backend waiting on a lock.
            async with asyncio.timeout(10):
                while not await _waits_on_a_lock(engine, deleter_pid):  # noqa: ASYNC110  (state is in PostgreSQL)
                    await asyncio.sleep(0.02)
            assert not deleting.done(), "the DELETE should wait for the tag's transaction"
            await tagger.commit()
            await asyncio.wait_for(deleting, timeout=10)
            await deleter.commit()
        async with engine.connect() as check:
            orphans = await check.execute(
                text("SELECT count(*) FROM tag WHERE taggable_type = 'article' AND taggable_id = :id"), {"id": article}
            )
            assert orphans.scalar_one() == 0
    finally:
        async with engine.begin() as cleanup:
            await cleanup.execute(text("DELETE FROM article WHERE id = :id"), {"id": article})
            await cleanup.execute(text("DELETE FROM user_account WHERE id = :id"), {"id": author})
