"""Bulk-queue jobs: thin doors into shared/ (validate, one transaction, report progress)."""

from typing import Any

from services.worker.context import Ctx, transaction
from shared.blog import bulk as post_bulk
from shared.heroes import bulk as hero_bulk
from shared.jobs import progress


def _progress(ctx: Ctx):  # type: ignore[no-untyped-def]
    async def report(done: int, total: int) -> None:
        await progress.report(ctx["redis"], ctx["job_id"], done, total)

    return report


async def bulk_update_heroes(ctx: Ctx, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Update up to 100,000 heroes, all or nothing. Re-running sets the same values again."""
    request = hero_bulk.BulkHeroUpdateRequest.model_validate({"items": items})
    async with transaction(ctx) as session:
        return await hero_bulk.bulk_update(session, request.items, _progress(ctx))


async def bulk_delete_heroes(ctx: Ctx, ids: list[int]) -> dict[str, Any]:
    """Delete up to 100,000 heroes with their items; their TransferLogs stay."""
    request = hero_bulk.BulkHeroDeleteRequest.model_validate({"ids": ids})
    async with transaction(ctx) as session:
        return await hero_bulk.bulk_delete(session, request.ids, _progress(ctx))


async def bulk_post_operation(ctx: Ctx, request: dict[str, Any]) -> dict[str, Any]:
    """Publish, archive or delete posts chosen by ids or a filter, in one statement."""
    parsed = post_bulk.BulkPostRequest.model_validate(request)
    async with transaction(ctx) as session:
        return await post_bulk.run(session, parsed)
