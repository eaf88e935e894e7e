"""The audit pipeline under an open-loop load: transfers offered at a fixed rate whatever the
responses (a closed loop would slow down with the server and hide a backlog), then, from the
database, how long each committed transfer waited for its TransferLog, and whether each got
exactly one.

Commit time is not recorded anywhere, so it is approximated from the database timestamps:
the transfer's outbox row is stamped (created_at, in the API process) inside the transfer's
transaction, just before its flush and COMMIT; the log's logged_at is stamped by the worker
inside its own transaction, just before its COMMIT. Same machine, same clock. So
logged_at - created_at overstates the delay by the transfer's flush and commit and
understates it by the worker's commit: a few ms each way, next to the delay measured.
A log whose outbox row cannot be matched falls back to its transfer_date (stamped a moment
before the outbox row).
"""

import asyncio
import math
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from bench.api.rawhttp import ProtocolError, RawClient
from bench.api.seed import Seeded, outbox_backlog, wait_for_outbox

# DISTINCT ON: one row per log even if some outbox row matched twice.
DELAYS = """
SELECT DISTINCT ON (t.id)
       EXTRACT(EPOCH FROM t.logged_at - COALESCE(o.created_at, t.transfer_date)) * 1000 AS delay_ms,
       o.id IS NOT NULL AS from_outbox
FROM transfer_log t
LEFT JOIN outbox o
  ON o.payload->>'hero_id' = t.hero_id::text
 AND (o.payload->>'transfer_date')::timestamptz = t.transfer_date
"""
PRIME_TIMEOUT = 60.0
DRAIN_TIMEOUT = 120.0
# Requests in flight at most (one connection each). When the server falls this far behind,
# a due request is shed (counted, not sent) instead of queued in the client, where it would
# cost the generator CPU and its schedule: 256 in flight at 200/s is over a second of
# backlog, the server is overloaded by then anyway.
IN_FLIGHT_LIMIT = 256
SHED = "shed (client at its in-flight limit)"


class TransferPicker:
    """The Python twin of the wrk transfer script: a random pool hero, moved one team along
    its rotation, so no transfer asks for the team its hero is already on."""

    def __init__(self, seeded: Seeded, seed: int = 20_240_601) -> None:
        self.seeded = seeded
        self.moves: dict[int, int] = {}
        self.random = random.Random(seed)

    def next(self) -> tuple[int, int]:
        index = self.random.randrange(self.seeded.heroes)
        self.moves[index] = moves = self.moves.get(index, 0) + 1
        return self.seeded.first_hero + index, self.seeded.team_after(index, moves)


@dataclass(frozen=True)
class Sent:
    status: int | None  # None: no response (a transport error, or shed)
    key: tuple[int, datetime] | None  # (hero_id, transfer_date) of a committed transfer
    failure: str | None = None

    @property
    def committed(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class AuditResult:
    offered: int
    seconds: float
    max_lag_ms: float  # how late the generator sent its latest request (it must stay ~0)
    client_cpu: float  # the generator's CPU seconds: taken from the cores the app runs on
    committed: int
    failures: dict[str, int]
    backlog_after_settle: int
    logs: int
    missing: int  # committed transfers without a log
    duplicated: int  # committed transfers with more than one
    unexpected: int  # logs of no committed transfer
    from_outbox: int  # delays measured from the outbox row (the rest from transfer_date)
    p50_ms: float
    p99_ms: float

    @property
    def one_log_each(self) -> bool:
        return self.logs == self.committed and not (self.missing or self.duplicated or self.unexpected)


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q% of the values at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _key(body: object) -> tuple[int, datetime] | None:
    if not isinstance(body, dict):
        return None
    try:
        return int(body["hero_id"]), datetime.fromisoformat(body["transfer_date"])
    except (KeyError, TypeError, ValueError):
        return None


async def transfer(client: RawClient, path: str, team_id: int) -> Sent:
    try:
        response = await client.post_json(path, {"to_team_id": team_id})
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError) as error:
        return Sent(None, None, type(error).__name__)
    if not response.is_success:
        return Sent(response.status, None, str(response.status))
    try:
        return Sent(response.status, _key(response.json()))
    except ValueError:  # a 2xx without a JSON body: committed, but cannot be matched to its log
        return Sent(response.status, None)


class UrlFor:
    def __init__(self, template: str) -> None:
        self.template = template

    def __call__(self, hero_id: int) -> str:
        return self.template.format(hero_id=hero_id)


async def prime(client: RawClient, url_for: UrlFor, connection: asyncpg.Connection, picker: TransferPicker) -> None:
    """One transfer through the whole pipeline before timing: the worker must be polling."""
    hero_id, team_id = picker.next()
    sent = await transfer(client, url_for(hero_id), team_id)
    if sent.status != 200:
        raise SystemExit(f"audit: the priming transfer answered {sent.status}")
    deadline = time.monotonic() + PRIME_TIMEOUT
    while not await connection.fetchval("SELECT count(*) FROM transfer_log"):
        if time.monotonic() > deadline:
            raise SystemExit(f"audit: no TransferLog {PRIME_TIMEOUT:.0f} s after a transfer: is the worker running?")
        await asyncio.sleep(0.05)
    await connection.execute("TRUNCATE transfer_log, outbox")


async def offer(
    client: RawClient, url_for: UrlFor, picker: TransferPicker, rate: float, seconds: float
) -> tuple[list[Sent], float, float]:
    """Launch round(rate * seconds) transfers at their scheduled times, never waiting for a
    response; every outcome; the max lateness (ms); the seconds until the last response."""
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[Sent]] = []
    shed: list[Sent] = []

    async def launch(path: str, team_id: int) -> Sent:
        try:
            return await transfer(client, path, team_id)
        finally:
            client.release()

    lag = 0.0
    start = loop.time()
    for n in range(round(rate * seconds)):
        due = start + n / rate
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        lag = max(lag, loop.time() - due)
        if not client.reserve():
            shed.append(Sent(None, None, SHED))
            continue
        hero_id, team_id = picker.next()
        tasks.append(asyncio.create_task(launch(url_for(hero_id), team_id)))
    sent = [*await asyncio.gather(*tasks), *shed]
    return sent, lag * 1000, loop.time() - start


async def run(
    base_url: str,
    token: str,
    connection: asyncpg.Connection,
    seeded: Seeded,
    rate: float,
    seconds: float,
    settle: float,
) -> AuditResult:
    url_for = UrlFor("/heroes/{hero_id}/transfer")
    picker = TransferPicker(seeded)
    headers = {"Authorization": f"Bearer {token}"}
    async with RawClient(base_url, headers, IN_FLIGHT_LIMIT, timeout=60.0) as client:
        await prime(client, url_for, connection, picker)
        cpu_start = time.process_time()
        sent, lag_ms, load_seconds = await offer(client, url_for, picker, rate, seconds)
        client_cpu = time.process_time() - cpu_start
    await asyncio.sleep(settle)
    backlog = await outbox_backlog(connection)
    # Exactly-once is judged on the finished pipeline, not on its speed: wait for the rest.
    await wait_for_outbox(connection, DRAIN_TIMEOUT)
    rows = await connection.fetch(DELAYS)
    committed = Counter(s.key for s in sent if s.committed)
    log_keys = await connection.fetch("SELECT hero_id, transfer_date FROM transfer_log")
    logged: Counter[tuple[int, datetime] | None] = Counter((row["hero_id"], row["transfer_date"]) for row in log_keys)
    failures = Counter(s.failure or "?" for s in sent if not s.committed)
    delays = [float(row["delay_ms"]) for row in rows]
    return AuditResult(
        offered=len(sent),
        seconds=load_seconds,
        max_lag_ms=lag_ms,
        client_cpu=client_cpu,
        committed=sum(committed.values()),
        failures=dict(failures),
        backlog_after_settle=backlog,
        logs=len(log_keys),
        missing=sum(1 for key in committed if key is not None and logged[key] == 0) + committed[None],
        duplicated=sum(1 for key in committed if key is not None and logged[key] > 1),
        unexpected=sum(count for key, count in logged.items() if key not in committed),
        from_outbox=sum(1 for row in rows if row["from_outbox"]),
        p50_ms=percentile(delays, 50),
        p99_ms=percentile(delays, 99),
    )
