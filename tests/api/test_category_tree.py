"""GET /categories/tree: the tree a page at a time, in preorder, kept by category.path (migration
0009). Every category exactly once across the pages, renames and moves re-sorting whole subtrees,
a subtree by its root, one statement and one index range per page whatever the tree's size."""

import asyncio
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.catalog.queries import tree_page_statement
from shared.db import flush
from shared.models.catalog import Category
from tests.conftest import StatementLog
from tests.shared.factories import forge_cursor, unique
from tests.support.plans import explain

TREE = "/api/v1/categories/tree"


async def add(session: AsyncSession, name: str, parent: Category | None = None) -> Category:
    category = Category(name=name, parent_id=parent.id if parent else None)
    session.add(category)
    await flush(session)
    return category


async def whole_tree(client: AsyncClient, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every page, following next_cursor."""
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = await client.get(TREE, params={"limit": limit, **params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        entries += response.json()["items"]
        if (cursor := response.json()["next_cursor"]) is None:
            return entries


async def a_small_tree(session: AsyncSession) -> dict[str, Category]:
    """R (a root) with children b, a (a has children a2, a1) and a second root S."""
    prefix = unique("t")
    r = await add(session, f"{prefix} R")
    b, a = await add(session, "b", r), await add(session, "a", r)
    a2, a1 = await add(session, "a2", a), await add(session, "a1", a)
    s = await add(session, f"{prefix} S")
    return {"R": r, "a": a, "a1": a1, "a2": a2, "b": b, "S": s}


def names(entries: list[dict[str, Any]], tree: dict[str, Category]) -> list[str]:
    ids = {category.id: name for name, category in tree.items()}
    return [ids[entry["id"]] for entry in entries if entry["id"] in ids]


@pytest.mark.parametrize("limit", [1, 2, 1000])
async def test_the_pages_list_every_category_once_in_preorder(
    client: AsyncClient, session: AsyncSession, limit: int
) -> None:
    tree = await a_small_tree(session)
    entries = await whole_tree(client, limit)
    assert len({entry["id"] for entry in entries}) == len(entries)  # none twice
    assert names(entries, tree) == ["R", "a", "a1", "a2", "b", "S"]  # parents first, siblings by name
    depth = {entry["id"]: entry["depth"] for entry in entries}
    assert [depth[tree[name].id] for name in ("R", "a", "a1", "b")] == [0, 1, 2, 1]  # type: ignore[index]
    by_id = {entry["id"]: entry for entry in entries}
    assert by_id[tree["a1"].id]["parent_id"] == tree["a"].id
    assert set(by_id[tree["a1"].id]) == {"id", "name", "description", "is_active", "parent_id", "depth"}


async def test_a_subtree_is_its_root_then_its_descendants_only(client: AsyncClient, session: AsyncSession) -> None:
    tree = await a_small_tree(session)
    entries = await whole_tree(client, 2, root_id=tree["a"].id)
    assert [entry["id"] for entry in entries] == [tree[name].id for name in ("a", "a1", "a2")]
    leaf = await whole_tree(client, 5, root_id=tree["a1"].id)
    assert [entry["id"] for entry in leaf] == [tree["a1"].id]


async def test_an_unknown_root_is_an_empty_page_and_a_forged_cursor_422(client: AsyncClient) -> None:
    missing = await client.get(TREE, params={"root_id": 2_000_000_000})
    assert missing.status_code == 200 and missing.json() == {"items": [], "next_cursor": None}
    for cursor in (forge_cursor({"path": []}), forge_cursor({"path": ["x"]}), forge_cursor({"id": 1}), "%%"):
        response = await client.get(TREE, params={"cursor": cursor})
        assert response.status_code == 422, cursor
        assert response.json()["errors"][0]["field"] == "query.cursor"


async def test_a_rename_and_a_move_resort_the_whole_subtree(client: AsyncClient, session: AsyncSession) -> None:
    tree = await a_small_tree(session)
    await session.exec(text("UPDATE category SET name = 'c' WHERE id = :id"), params={"id": tree["a"].id})  # type: ignore[call-overload]
    entries = await whole_tree(client, 3)
    assert names(entries, tree) == ["R", "b", "a", "a1", "a2", "S"]  # "a" renamed "c": after b, with its children
    await session.exec(  # type: ignore[call-overload]
        text("UPDATE category SET parent_id = :s WHERE id = :a"), params={"s": tree["S"].id, "a": tree["a"].id}
    )
    entries = await whole_tree(client, 2)
    assert names(entries, tree) == ["R", "b", "S", "a", "a1", "a2"]
    depth = {entry["id"]: entry["depth"] for entry in entries}
    assert depth[tree["a2"].id] == 2
    stale = (
        await session.exec(  # type: ignore[call-overload]
            text(
                "SELECT count(*) FROM category c JOIN category p ON p.id = c.parent_id"
                " WHERE c.path <> p.path || category_path_step(c.name, c.id)"
            )
        )
    ).one()[0]
    assert stale == 0  # every path is its parent's plus its own step


async def test_a_page_is_one_statement_and_one_index_range_at_any_size(
    client: AsyncClient, session: AsyncSession, statements: StatementLog
) -> None:
    root = await add(session, unique("big"))
    await session.exec(  # type: ignore[call-overload]
        text("INSERT INTO category (name, parent_id) SELECT 'child ' || g, :root FROM generate_series(1, 5000) g"),
        params={"root": root.id},
    )
    await session.exec(text("ANALYZE category"))  # type: ignore[call-overload]
    counts = []
    for params in ({}, {"root_id": root.id}):
        with statements.record():
            response = await client.get(TREE, params={"limit": 50, **params})
        assert len(response.json()["items"]) == 50
        counts.append(statements.count)
    assert counts == [1, 1]
    deep = (await session.exec(text("SELECT path FROM category ORDER BY path OFFSET 3000 LIMIT 1"))).one()[0]  # type: ignore[call-overload]
    for root_id in (None, root.id):
        _, plan = await explain(session, tree_page_statement(root_id=root_id, limit=50, after=deep))
        assert "ix_category_path" in plan and "Sort" not in plan and "Seq Scan on category" not in plan, plan


async def test_a_category_created_under_a_subtree_being_renamed_gets_the_new_path(engine: AsyncEngine) -> None:
    """The rename holds the tree lock to its COMMIT; the insert under its grandchild waits for it and
    then reads the renamed prefix (without the lock it would keep the old one: the rename's rewrite
    of the subtree could not see a row committed after it began). Committed rows, deleted after."""
    prefix = unique("race")
    async with engine.begin() as connection:
        top = (
            await connection.execute(text("INSERT INTO category (name) VALUES (:n) RETURNING id"), {"n": prefix})
        ).scalar_one()
        middle = (
            await connection.execute(
                text("INSERT INTO category (name, parent_id) VALUES ('m', :p) RETURNING id"), {"p": top}
            )
        ).scalar_one()
    created: list[int] = []
    try:
        async with engine.connect() as renamer, engine.connect() as creator:
            await renamer.begin()
            await renamer.execute(
                text("UPDATE category SET name = :n WHERE id = :id"), {"n": f"{prefix} renamed", "id": top}
            )

            async def create() -> None:
                await creator.begin()
                row = await creator.execute(
                    text("INSERT INTO category (name, parent_id) VALUES ('leaf', :p) RETURNING id"), {"p": middle}
                )
                created.append(row.scalar_one())
                await creator.commit()

            insert = asyncio.create_task(create())
            await asyncio.sleep(0.3)
            assert not insert.done()  # waiting for the rename
            await renamer.commit()
            await asyncio.wait_for(insert, 10)
        async with engine.connect() as connection:
            path = (
                await connection.execute(text("SELECT path FROM category WHERE id = :id"), {"id": created[0]})
            ).scalar_one()
        assert path[0].startswith(f"{prefix} renamed")
    finally:
        async with engine.begin() as connection:
            for category_id in (*created, middle, top):
                await connection.execute(text("DELETE FROM category WHERE id = :id"), {"id": category_id})
