"""The read workloads: GET /posts/{id} (a random published post) and GET /posts?limit=20 (the
first page), anonymous, against Guildhall and the two baselines that serve them (minimal-async,
fastapi-asyncpg). Each app's answers to a few fixed requests are kept, so the report can say
whether the baselines answer exactly what Guildhall does (same rows, same JSON)."""

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.api.load import DONE_HOOK, LoadResult
from bench.api.seed import ReadSeed

READ_ONE = "read one"
READ_PAGE = "read page"
READ_KINDS = (READ_ONE, READ_PAGE)
PAGE_PATH = "/posts?limit=20"


@dataclass
class ReadRuns:
    runs: dict[str, list[LoadResult]] = field(default_factory=lambda: {kind: [] for kind in READ_KINDS})
    # request -> (status, JSON body when 200): the same for every app, or a baseline is not equivalent.
    samples: dict[str, tuple[int, Any]] = field(default_factory=dict)


def read_one_script(prefix: str, seeded: ReadSeed) -> str:
    """A random published post per request (each wrk thread its own random sequence)."""
    last = seeded.first_published + seeded.published - 1
    return (
        f"""
local started = 0
function setup(thread)
  thread:set("tid", started)
  started = started + 1
end
function init(args)
  math.randomseed(os.time() + 7919 * tid)
end
function request()
  return wrk.format("GET", "{prefix}/posts/" .. math.random({seeded.first_published}, {last}))
end
"""
        + DONE_HOOK
    )


def read_page_script() -> str:
    return DONE_HOOK  # one static GET: the URL wrk is given


def sample_paths(seeded: ReadSeed) -> dict[str, str]:
    first = seeded.first_published
    return {
        "a post in a category": f"/posts/{first}",
        "a post without a category": f"/posts/{first + 4}",  # every 5th has none (seed.reset_reads)
        "a draft (404 to anyone anonymous)": f"/posts/{first + seeded.published}",
        "the first page": PAGE_PATH,
    }


async def samples(url_of: dict[str, str]) -> dict[str, tuple[int, Any]]:
    found: dict[str, tuple[int, Any]] = {}
    async with httpx.AsyncClient(timeout=30.0) as client:
        for name, url in url_of.items():
            response = await client.get(url)
            found[name] = (response.status_code, response.json() if response.status_code == 200 else None)
    return found


def difference(ours: dict[str, tuple[int, Any]], theirs: dict[str, tuple[int, Any]]) -> str | None:
    """None when a baseline answered every sample request exactly as Guildhall did."""
    for name, (status, body) in ours.items():
        other_status, other_body = theirs.get(name, (0, None))
        if other_status != status:
            return f"{name}: status {other_status}, guildhall {status}"
        if other_body != body:
            return f"{name}: {json.dumps(other_body)[:300]} ... against guildhall's {json.dumps(body)[:300]} ..."
    return None


def unexpected(ours: dict[str, tuple[int, Any]]) -> str | None:
    """None when Guildhall's own answers are what the seeded data should give: comparing the
    baselines with an empty page or a 404 would prove nothing."""
    page_status, page = ours.get("the first page", (0, None))
    if page_status != 200 or len(page["items"]) != 20 or page["next_cursor"] is None:
        return f"the first page: status {page_status}, not 20 posts and a next cursor"
    for name, (status, _) in ours.items():
        if status != (404 if name.startswith("a draft") else 200):
            return f"{name}: status {status}"
    return None
