"""Closed-loop load with wrk: the Lua scripts (POST bodies, headers, the transfer rotation)
and one run's numbers, read from the script's own done() hook rather than wrk's text."""

import asyncio
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.api.options import Options
from bench.api.seed import Seeded

POST_BODY = {
    "title": "A benchmark post",
    "content": "Posted by bench.api: " + "lorem ipsum dolor sit amet " * 8,
    "status": "published",
}
# wrk counts responses with a status >= 400 in errors.status (its "Non-2xx or 3xx" line) and
# socket errors (connect, read, write, timeout) apart; done() prints both with the latency
# percentiles from wrk's full histogram, on one line this module parses.
DONE_HOOK = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH_RESULT %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f\\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""
RESULT = re.compile(r"^BENCH_RESULT" + r" (\d+)" * 9 + r"$", re.MULTILINE)


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    machine_busy: float = 0.0  # share of all cores busy during the run (/proc/stat), 0..1

    @property
    def rps(self) -> float:
        """Successful responses per second: an app answering errors fast must not score."""
        return (self.requests - self.non_2xx) / self.seconds

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot: how loaded the machine was during a run
    (an app that cannot scale because the cores are full is told apart from one that will not)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("bench.api needs wrk on PATH (Debian: apt-get install -y wrk)")
    return wrk


def _headers(token: str | None) -> str:
    lines = ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"']
    if token is not None:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
    return "\n".join(lines) + "\n"


def posts_script(token: str | None) -> str:
    # One fixed body: nothing about a post's content is unique, and a static request costs
    # wrk the least CPU (it shares the two cores with the app).
    return _headers(token) + f"wrk.body = [[{json.dumps(POST_BODY)}]]\n" + DONE_HOOK


def transfers_script(token: str | None, prefix: str, seeded: Seeded, threads: int) -> str:
    """A random pool hero per request, moved one team along its rotation (Seeded.team_after).
    Each wrk thread owns the heroes whose index is congruent to its number, so two threads
    never send the same hero to the same team; within a thread, consecutive moves of one
    hero name different teams whatever order the server runs them in (unless `teams` moves
    of one hero were in flight at once, which random picks among thousands never do)."""
    return (
        _headers(token)
        + f"""
local first_hero, heroes, threads = {seeded.first_hero}, {seeded.heroes}, {threads}
local first_team, teams = {seeded.first_team}, {seeded.teams}
local started = 0
function setup(thread)
  thread:set("tid", started)
  started = started + 1
end
local moves = {{}}
local per_thread = math.floor(heroes / threads)
function init(args)
  math.randomseed(os.time() + 7919 * tid)
end
function request()
  local index = math.random(0, per_thread - 1) * threads + tid
  local done = (moves[index] or 0) + 1
  moves[index] = done
  local team = first_team + (index + done) % teams
  local path = "{prefix}/heroes/" .. (first_hero + index) .. "/transfer"
  return wrk.format(nil, path, nil, '{{"to_team_id": ' .. team .. '}}')
end
"""
        + DONE_HOOK
    )


async def run_wrk(url: str, script: Path, options: Options, seconds: int) -> LoadResult:
    argv = [
        require_wrk(),
        *(f"-t{options.threads}", f"-c{options.connections}", f"-d{seconds}s", "--latency"),
        # Long enough that a slow response is measured as latency, not dropped as a timeout.
        *("--timeout", "10s", "-s", str(script), url),
    ]
    busy_before, total_before = cpu_times()
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output = (await process.communicate())[0].decode(errors="replace")
    busy_after, total_after = cpu_times()
    busy = (busy_after - busy_before) / max(1, total_after - total_before)
    match = RESULT.search(output)
    if process.returncode != 0 or match is None:
        raise SystemExit(f"wrk failed ({process.returncode}) on {url}:\n{output}")
    requests, duration_us, status, *socket, p50_us, p99_us = (int(value) for value in match.groups())
    return LoadResult(requests, duration_us / 1e6, status, sum(socket), p50_us / 1e3, p99_us / 1e3, busy)


async def wrk_version() -> str:
    process = await asyncio.create_subprocess_exec(
        require_wrk(), "-v", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output = (await process.communicate())[0].decode(errors="replace")
    return output.splitlines()[0].split(" Copyright")[0] if output else "wrk"
