"""What each baseline reads from its environment (bench.api sets these when it starts one)."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class BaselineConfig:
    # A plain libpq URL (postgresql://user@host:port/db); each baseline picks its driver.
    database_url: str
    # Posts need an author; the benchmark seeds one user and every app writes as that user.
    author_id: int
    pool_size: int
    max_overflow: int

    def url_for(self, driver: str) -> str:
        """The URL with a SQLAlchemy driver (`postgresql+psycopg`), or plain for asyncpg (`postgresql`)."""
        return driver + self.database_url.removeprefix("postgresql")


def from_env() -> BaselineConfig:
    return BaselineConfig(
        database_url=os.environ["BENCH_BASELINE_DATABASE_URL"],
        author_id=int(os.environ["BENCH_BASELINE_AUTHOR_ID"]),
        pool_size=int(os.environ.get("BENCH_BASELINE_POOL_SIZE", "20")),
        max_overflow=int(os.environ.get("BENCH_BASELINE_MAX_OVERFLOW", "10")),
    )
