"""Bulk-queue jobs: thin doors into shared/. Each runs one durable job record (its arguments
come from PostgreSQL, not Redis) in one all-or-nothing transaction, with progress reported to
Redis (services.worker.recorded). The API validated the arguments before accepting them; the bulk
update applies the items staged with its record in one SQL statement (progress once, at its end),
the others validate their (smaller) arguments again and report progress per chunk."""

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.worker.context import Ctx
from services.worker.recorded import run_recorded
from shared.blog import bulk as post_bulk
from shared.heroes import bulk as hero_bulk
from shared.jobs import progress, records


def _progress(ctx: Ctx, record_id: str):  # type: ignore[no-untyped-def]
    async def report(done: int, total: int) -> None:
        await progress.report(ctx["redis"], record_id, done, total)

    return report


async def bulk_update_heroes(ctx: Ctx, record_id: str) -> dict[str, Any]:
    """Update up to 100,000 heroes, all or nothing. Re-running sets the same values again."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        return await hero_bulk.bulk_update_staged(session, record_id, _progress(ctx, record_id))

    return await run_recorded(ctx, record_id, work)


async def bulk_delete_heroes(ctx: Ctx, record_id: str) -> dict[str, Any]:
    """Delete up to 100,000 heroes with their items; their TransferLogs stay."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        request = hero_bulk.BulkHeroDeleteRequest.model_validate(await records.arguments(session, record_id))
        return await hero_bulk.bulk_delete(session, request.ids, _progress(ctx, record_id))

    return await run_recorded(ctx, record_id, work)


async def bulk_post_operation(ctx: Ctx, record_id: str) -> dict[str, Any]:
    """Publish, archive or delete posts chosen by ids or a filter, in one statement."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        request = post_bulk.BulkPostRequest.model_validate(await records.arguments(session, record_id))
        return await post_bulk.run(session, request)

    return await run_recorded(ctx, record_id, work)
