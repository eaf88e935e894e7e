"""Nested read: Guildhall's `GET /teams/{id}?include=heroes,heroes.items` against ONE PostgreSQL
statement that builds the same JSON (json_agg), each timed the same number of times, in turn."""

import json
import statistics
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

# The fields of Guildhall's public TeamDetail / HeroInTeam / ItemRead (shared/heroes/schemas.py): the
# bench reads anonymously, and only admins see secret identities.
TEAM_JSON = """
SELECT json_build_object(
    'id', t.id, 'name', t.name, 'headquarters', t.headquarters,
    'heroes', COALESCE((
        SELECT json_agg(json_build_object(
            'id', h.id, 'name', h.name, 'age', h.age,
            'power_level', h.power_level, 'team_id', h.team_id,
            'items', COALESCE(i.items, '[]'::json)
        ) ORDER BY h.id)
        FROM hero h
        LEFT JOIN (
            SELECT item.hero_id, json_agg(json_build_object('id', item.id, 'name', item.name) ORDER BY item.id) AS items
            FROM item JOIN hero ON hero.id = item.hero_id
            WHERE hero.team_id = $1
            GROUP BY item.hero_id
        ) i ON i.hero_id = h.id
        WHERE h.team_id = t.id
    ), '[]'::json)
)::text
FROM team t WHERE t.id = $1
"""


@dataclass(frozen=True)
class NestedResult:
    heroes: int
    items: int
    guildhall_ms: float  # median
    sql_ms: float  # median
    difference: str | None  # None: the same content

    @property
    def ratio(self) -> float:
        return self.guildhall_ms / self.sql_ms


def _normalized(team: dict[str, Any]) -> dict[str, Any]:
    """Order is not part of the contract: heroes and their items by id."""
    heroes = [
        {**hero, "items": sorted(hero.get("items") or [], key=lambda item: item["id"])}
        for hero in sorted(team.get("heroes") or [], key=lambda hero: hero["id"])
    ]
    return {**team, "heroes": heroes}


def difference(ours: dict[str, Any], floor: dict[str, Any]) -> str | None:
    """None when equal; otherwise where the two first differ, in words."""
    a, b = _normalized(ours), _normalized(floor)
    if a == b:
        return None
    if a.keys() != b.keys():
        return f"team fields: guildhall has {sorted(a)}, json_agg has {sorted(b)}"
    if len(a["heroes"]) != len(b["heroes"]):
        return f"guildhall lists {len(a['heroes'])} heroes, json_agg {len(b['heroes'])}"
    for mine, theirs in zip(a["heroes"], b["heroes"], strict=True):
        if mine != theirs:
            fields = sorted(key for key in mine.keys() | theirs.keys() if mine.get(key) != theirs.get(key))
            return f"hero {mine.get('id')}: {fields} differ"
    fields = sorted(key for key in a if key != "heroes" and a[key] != b.get(key))
    return f"team fields differ: {fields}"


async def measure(
    client: httpx.AsyncClient, url: str, connection: asyncpg.Connection, team_id: int, samples: int
) -> NestedResult:
    # One of each first, unmeasured (connections, prepared statements, caches); then the two
    # alternate, so drift on a shared machine hits both alike.
    first = await client.get(url)
    first.raise_for_status()
    await connection.fetchval(TEAM_JSON, team_id)
    api_ms: list[float] = []
    sql_ms: list[float] = []
    body, text = b"", ""
    for _ in range(samples):
        start = time.perf_counter()
        response = await client.get(url)
        body = response.content
        api_ms.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
        start = time.perf_counter()
        text = await connection.fetchval(TEAM_JSON, team_id)
        sql_ms.append((time.perf_counter() - start) * 1000)
    ours, floor = json.loads(body), json.loads(text)
    heroes = floor["heroes"]
    return NestedResult(
        heroes=len(heroes),
        items=sum(len(hero["items"]) for hero in heroes),
        guildhall_ms=statistics.median(api_ms),
        sql_ms=statistics.median(sql_ms),
        difference=difference(ours, floor),
    )
