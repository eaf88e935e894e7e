"""Command line of `python -m bench.api`: the default sizes, and `--quick` for a smoke run."""

import argparse
from dataclasses import dataclass

import bench.api
from bench.common import bench_url


@dataclass(frozen=True)
class Options:
    database: str
    rounds: int
    duration: int  # seconds of each measured wrk run
    warmup: int  # seconds of wrk before the measured runs of each app start
    threads: int
    connections: int
    heroes: int  # the pool random transfers pick from
    teams: int  # teams those heroes move between
    nested_heroes: int  # the one team of the nested read
    items_per_hero: int
    nested_samples: int
    read_posts: int  # posts of the read workloads (9 in 10 published), their authors and categories
    audit_rate: float  # transfers offered per second, open loop
    audit_seconds: float
    audit_settle: float  # seconds after the load stops before the backlog is read
    pool_size: int
    max_overflow: int
    quick: bool


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.api", description=bench.api.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of the whole benchmark")
    parser.add_argument("--duration", type=int, help="seconds per measured wrk run (default 10; quick 2)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 2; quick 1)")
    parser.add_argument("--audit-rate", type=float, help="transfers/s offered in the audit test (default 200)")
    parser.add_argument("--audit-seconds", type=float, help="length of the audit load (default 30)")
    parser.add_argument("--database", help=f"scratch database, dropped and recreated (default {bench_url().database})")
    parser.add_argument("--pool-size", type=int, default=20, help="each app's PostgreSQL pool size (default 20)")
    parser.add_argument("--max-overflow", type=int, default=10, help="each app's pool overflow (default 10)")
    args = parser.parse_args(argv)
    quick: bool = args.quick

    def pick(value: float | None, default: float, small: float) -> float:
        return value if value is not None else (small if quick else default)

    return Options(
        database=args.database or str(bench_url().database),
        rounds=int(pick(args.rounds, 2, 1)),
        duration=int(pick(args.duration, 10, 2)),
        # Quick runs skip the warm-ups (their numbers mean nothing anyway) to stay short.
        warmup=0 if quick else 2,
        threads=2,
        connections=64,
        heroes=1_000 if quick else 10_000,
        teams=10 if quick else 20,
        nested_heroes=100 if quick else 1_000,  # the most heroes one page of the nested read holds
        items_per_hero=5,
        nested_samples=5 if quick else 30,
        read_posts=1_000 if quick else 10_000,
        audit_rate=pick(args.audit_rate, 200, 50),
        audit_seconds=pick(args.audit_seconds, 30, 3),
        audit_settle=2.0 if quick else 5.0,
        pool_size=args.pool_size,
        max_overflow=args.max_overflow,
        quick=quick,
    )
