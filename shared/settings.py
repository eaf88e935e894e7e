"""Configuration, read once from the environment (and an optional `.env`)."""

from functools import lru_cache
from typing import Literal, Self

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Good enough for a laptop, refused anywhere else (see Settings.refuse_default_secret).
DEVELOPMENT_SECRET = "guildhall-development-secret-do-not-deploy"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/guildhall",
        description="SQLAlchemy URL of the PostgreSQL database (asyncpg driver).",
    )
    database_direct_url: str | None = Field(
        default=None,
        description="A direct PostgreSQL session (not a pooler) for migrations, creating the database and start-up"
        " checks; default: DATABASE_URL.",
    )
    database_read_url: str | None = Field(
        default=None,
        description="A streaming replica for the heavy public reads (README: Production topology); default: none.",
    )
    db_pooler: Literal["none", "transaction"] = Field(
        default="none",
        description="`transaction`: DATABASE_URL (and DATABASE_READ_URL) is a transaction-mode pooler (PgBouncer):"
        " no startup parameters, no named prepared statements, the bounds set per transaction.",
    )
    # A reader who lands on a replica this far behind sees a list a few seconds old; more than
    # that, and the primary answers instead (it can take the reads; a stale page is worse).
    db_replica_max_lag_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="A replica further behind than this is skipped (reads go to the primary).",
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Redis URL used by the arq queues (with sentinels: the master's db index and password).",
    )
    redis_sentinels: str | None = Field(
        default=None,
        pattern=r"^\s*[^\s,:]+:\d{1,5}\s*(,\s*[^\s,:]+:\d{1,5}\s*)*$",
        description="host:port,host:port,... of Redis Sentinels: every Redis client finds the master through them.",
    )
    redis_sentinel_master: str | None = Field(
        default=None, min_length=1, description="The master's name the sentinels monitor (with REDIS_SENTINELS)."
    )
    redis_sentinel_password: SecretStr | None = Field(
        default=None, description="The sentinels' own password (requirepass of the sentinels), if any."
    )
    # Per process. Overflow connections are closed when returned to a full pool, which under load
    # churned (209 connects in 5 s of reads with 20 + 10, 30 with 30 + 0): the budget is kept open.
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    db_echo: bool = False
    # Bounded waits for API requests (jobs have their own, below). A request's statements are
    # single-row writes and indexed reads of milliseconds; the heaviest (a 2,000-hero team
    # document, a 100-row page) take tens of ms, so 10 s is far past anything legitimate. A row
    # lock is held for milliseconds by the transactions that take one, so waiting 2 s for a lock
    # means something else holds it (a migration, a stuck session): answer 503, do not queue up.
    db_statement_timeout_ms: int = Field(default=10_000, ge=100, description="Longest SQL statement of a request.")
    db_lock_timeout_ms: int = Field(default=2_000, ge=10, description="Longest wait for a lock in a request.")
    db_pool_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Longest wait for a free database connection (API and jobs)."
    )
    # Jobs wait longer for a lock (a bulk job may queue behind many short transactions); their
    # statements are bounded by their queue's job timeout.
    job_lock_timeout_ms: int = Field(default=30_000, ge=10, description="Longest wait for a lock in a job.")

    # Where `guildhall api` listens when not told (--host, --port), as `make run` does
    # (scripts/run-all.sh reads the same variables); seed-demo prints this address to log in at.
    host: str = Field(default="127.0.0.1", description="The API's address (HOST), unless `guildhall api --host`.")
    port: int = Field(default=8000, ge=1, le=65535, description="The API's port (PORT), unless `guildhall api --port`.")

    web_concurrency: int | None = Field(
        default=None, ge=1, description="API processes `guildhall api` starts (WEB_CONCURRENCY); default one per CPU."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        description="Guildhall's own log lines, uvicorn's and arq's (API and workers). DEBUG also shows"
        " the routine lines left out at INFO: cron sweeps that found nothing, health probes, arq's health line.",
    )

    environment: Literal["development", "test", "production"] = Field(
        default="development", description="Outside development, a real SECRET_KEY is required."
    )
    secret_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_SECRET), description="Signs the API's JWT access tokens (HS256)."
    )
    access_token_minutes: int = Field(default=60, ge=1, le=24 * 60)
    caller_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=5,
        description="How long an API process trusts what it read of a signed-in user (active, role); 0: never.",
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Largest request body accepted (413 above).")
    max_bulk_body_bytes: int = Field(
        default=32 * 1_048_576, ge=1024, description="Largest body of the bulk job endpoints (100,000 items)."
    )
    # One bulk upload at the 32 MiB limit peaks at ~225 MiB of Python memory while it is parsed and
    # validated (tests/api/test_jobs.py measures it); this many at once per API process, more are 503.
    bulk_uploads_at_once: int = Field(default=2, ge=1, le=16, description="Bulk job bodies read at once per process.")
    # The request head (request line and headers), bounded by the HTTP server (services.api.http_limits).
    # Our own clients send a few hundred bytes (a ~200-byte bearer token included); 32 KiB leaves room
    # for large cookies and proxy-added headers, as nginx's default (4 x 8 KiB buffers) and above
    # h11's and Node's 16 KiB, while a 10 MB header is refused after 32 KiB.
    max_header_bytes: int = Field(
        default=32_768, ge=1024, le=1_048_576, description="Largest request head (request line and headers); 431 above."
    )
    # A head is one packet or a few from any real client; 10 s covers a slow mobile link many times
    # over, and a client trickling its head (or connecting and saying nothing) loses its connection.
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Time to receive a request head, from the connection's opening or the request's first byte.",
    )
    # uvicorn's own default. Behind a proxy, keep it above the proxy's idle timeout for upstreams.
    http_keep_alive_seconds: int = Field(
        default=5, ge=1, le=300, description="An idle keep-alive connection is closed after this."
    )

    # --- the front door (README, "Security") ---
    api_docs: bool | None = Field(
        default=None,
        description="Serve /docs, /redoc and /openapi.json; default: only in development.",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Peers whose X-Forwarded-For names the client (uvicorn's convention); '*' trusts every peer.",
    )
    # OWASP's authentication guidance: throttle failed logins per account and per source, without
    # locking the owner out. The account's limit counts one address's failures on it (an attacker
    # elsewhere cannot lock the owner out); the address's limit counts its failures on any account.
    login_failures_per_account: str = Field(
        default="5/minute;20/hour",
        description="Failed logins allowed per account from one client address (limits notation); 429 beyond.",
    )
    login_failures_per_address: str = Field(
        default="30/minute;100/hour",
        description="Failed logins allowed per client address over all accounts; 429 beyond.",
    )
    # argon2id takes ~50 ms of one core and ~19 MiB: more at once than cores only queues them.
    password_hashes_at_once: int = Field(
        default=2, ge=1, le=64, description="Password hashes computed at once per process (in threads)."
    )
    # Per signed-in user (admins included: a stolen admin token is the worst case), per kind of
    # write. Generous for a person and a ceiling for a runaway script; transfers and bulk jobs are
    # admin automation (a transfer is a few ms of work, a bulk job up to 100,000 rows).
    write_limits: dict[str, str] = Field(
        default={
            "posts": "10/minute;100/day",
            "comments": "20/minute;500/day",
            "articles": "10/minute;100/day",
            "images": "20/minute;200/day",
            "transfers": "50/second;50000/hour",
            "jobs": "10/minute;500/day",
        },
        description="JSON object: kind -> limits (limits notation) per user; 429 with Retry-After beyond.",
    )
    body_idle_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="Longest silence while a request body is being received; 408 and close past it.",
    )
    max_connections: int = Field(
        default=1000, ge=1, le=100_000, description="Open connections per API process; 503 and close beyond."
    )

    # Comment moderation rules (the worker applies them to each new comment).
    moderation_banned_words: list[str] = Field(
        default=["spam", "scam", "viagra", "casino"], description="JSON list; matched as whole words, any case."
    )
    moderation_max_links: int = Field(default=2, ge=0, description="More links than this is rejected.")
    moderation_duplicate_window_seconds: int = Field(
        default=600, ge=0, description="The same text from the same author within this window is rejected."
    )
    # Job queues
    bulk_job_timeout_seconds: int = Field(
        default=600, ge=5, description="Longest run of a bulk job; also how long a crashed bulk job waits."
    )
    short_job_timeout_seconds: int = Field(default=30, ge=2)
    job_lease_seconds: float = Field(
        default=30,
        ge=1,
        le=60,
        description="A running job's lease, renewed by its worker every third of it; a job whose worker died"
        " is run again within this time (plus a poll).",
    )
    outbox_sweep_after_seconds: int = Field(
        default=10, ge=1, description="Outbox rows still unprocessed after this are enqueued again."
    )
    # Retention (shared.jobs.retention; README, "What each table keeps"). A processed outbox row's
    # effect is kept elsewhere (the TransferLog, the comment's decision): the row only tells when it
    # was processed and after how many sweeps, which an engineer reads while an incident is fresh. A
    # day of them is ~17 million rows (~6 GB) at 200 transfers/s; rows not processed are never deleted.
    outbox_retention_hours: int = Field(
        default=24, ge=1, le=7 * 24, description="Processed outbox rows are deleted this long after processing."
    )
    # 24 h is what payment APIs promise (Stripe's window); a retry a week later is a new request.
    idempotency_key_hours: int = Field(
        default=24, ge=1, le=7 * 24, description="A repeated Idempotency-Key older than this is a new request."
    )
    # Job history (shared.ops.recorder): every try, and per-minute metrics, in PostgreSQL.
    job_history: bool = Field(default=True, description="Workers record every try (job_run, job_metric_minute).")
    job_history_days: int = Field(default=14, ge=1, le=90, description="Job runs are kept this long.")
    job_metrics_hours: int = Field(default=24, ge=1, le=7 * 24, description="Minute metrics are kept this long.")
    # Ops views (/ops, /api/v1/ops/*, /metrics)
    metrics_token: SecretStr | None = Field(
        default=None, description="When set, GET /metrics needs `Authorization: Bearer <token>`."
    )
    metrics_listen: str | None = Field(
        default=None,
        pattern=r"^[^\s:]*:\d{1,5}$",
        description="host:port to serve /metrics on instead of the API's address (e.g. 127.0.0.1:9108).",
    )

    @field_validator("database_url", "database_direct_url", "database_read_url")
    @classmethod
    def asyncpg_url(cls, url: str | None, info: ValidationInfo) -> str | None:
        return None if url is None else asyncpg_url(url, (info.field_name or "database_url").upper())

    @property
    def direct_database_url(self) -> str:
        """Where a real server session is needed: migrations, CREATE DATABASE, start-up checks."""
        return self.database_direct_url or self.database_url

    @model_validator(mode="after")
    def sentinels_need_a_master_name(self) -> Self:
        if self.redis_sentinels and not self.redis_sentinel_master:
            raise ValueError("REDIS_SENTINEL_MASTER must be set with REDIS_SENTINELS")
        return self

    @property
    def api_url(self) -> str:
        """The API's address to connect to: a wildcard (0.0.0.0, ::, "") listens on loopback too."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::", "[::]") else self.host
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host  # an IPv6 address
        return f"http://{host}:{self.port}"

    @property
    def docs_enabled(self) -> bool:
        return self.environment == "development" if self.api_docs is None else self.api_docs

    @property
    def uses_development_secret(self) -> bool:
        return self.secret_key.get_secret_value() == DEVELOPMENT_SECRET

    @model_validator(mode="after")
    def refuse_default_secret(self) -> Self:
        key = self.secret_key.get_secret_value()
        if self.environment != "development" and key == DEVELOPMENT_SECRET:
            raise ValueError(f"SECRET_KEY must be set when ENVIRONMENT={self.environment}")
        if len(key) < 32:
            raise ValueError("SECRET_KEY must be at least 32 characters")
        if key != DEVELOPMENT_SECRET and (weakness := weak_key(key)) is not None:
            raise ValueError(f"SECRET_KEY is too weak ({weakness}): use secrets.token_urlsafe(48)")
        return self

    @model_validator(mode="after")
    def limits_parse(self) -> Self:
        from limits import parse_many

        for name, value in [
            ("login_failures_per_account", self.login_failures_per_account),
            ("login_failures_per_address", self.login_failures_per_address),
            *((f"write_limits.{kind}", text) for kind, text in self.write_limits.items()),
        ]:
            try:
                parse_many(value)
            except ValueError as error:
                raise ValueError(f"{name}: {value!r} is not in limits notation (e.g. 5/minute;20/hour)") from error
        return self


# The schemes hosting providers hand out (Heroku, Render, Fly, Supabase, Neon: postgres:// or
# postgresql://) name SQLAlchemy's default driver, psycopg, or none at all; Guildhall runs on asyncpg.
# A URL written for SQLAlchemy's other PostgreSQL drivers names the same server, user and database:
# only the driver differs, so it is swapped too.
OTHER_DRIVERS = frozenset({"psycopg", "psycopg_async", "psycopg2", "psycopg2cffi", "pg8000"})
WANTED_URL = "postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DATABASE (or postgresql://...)"
# libpq's connection parameters that asyncpg does not take: the engine would pass each to
# asyncpg.connect() and fail with a TypeError at the first connection, so they are refused up front.
# (sslmode= is libpq's too, but asyncpg has the same setting under the name ssl=.)
LIBPQ_ONLY = frozenset(
    {
        "application_name", "channel_binding", "client_encoding", "connect_timeout", "dbname",
        "fallback_application_name", "gssencmode", "hostaddr", "keepalives", "keepalives_count",
        "keepalives_idle", "keepalives_interval", "load_balance_hosts", "options", "replication",
        "require_auth", "requiressl", "sslcert", "sslcompression", "sslcrl", "sslcrldir", "sslkey",
        "ssl_max_protocol_version", "ssl_min_protocol_version", "sslpassword", "sslrootcert", "sslsni",
        "tcp_user_timeout",
    }
)  # fmt: skip


def asyncpg_url(url: str, variable: str = "DATABASE_URL") -> str:
    """A PostgreSQL URL as a provider (or another driver's configuration) gives it, for SQLAlchemy's
    asyncpg dialect: the scheme becomes postgresql+asyncpg, and libpq's `sslmode=` becomes asyncpg's
    `ssl=` (same values). Anything else is refused with one line naming the form wanted (ValueError;
    the message never repeats the URL, which may hold a password)."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        raise ValueError(f"{variable} is not a URL: use {WANTED_URL}")
    dialect, _, driver = scheme.lower().partition("+")
    if dialect not in ("postgres", "postgresql"):
        raise ValueError(f"{variable} is a {scheme}:// URL, not PostgreSQL's: use {WANTED_URL}")
    if driver not in ("", "asyncpg", *OTHER_DRIVERS):
        raise ValueError(
            f"{variable} names the driver {driver!r} ({scheme}://), which Guildhall does not use: use {WANTED_URL}"
        )
    # The query is what follows the host: a password may hold "?" or "sslmode=" itself.
    userinfo, at, address = rest.rpartition("@")
    location, mark, query = address.partition("?")
    pairs = [piece.partition("=") for piece in query.split("&") if piece]
    names = {name for name, _, _ in pairs}
    if refused := sorted(names & LIBPQ_ONLY):
        options = ", ".join(f"{name}=" for name in refused)
        them = "it" if len(refused) == 1 else "them"
        raise ValueError(f"{variable} has {options}, which asyncpg (Guildhall's driver) does not take: remove {them}")
    if "sslmode" in names and "ssl" not in names:
        query = "&".join(("ssl" if name == "sslmode" else name) + equals + value for name, equals, value in pairs)
    return f"postgresql+asyncpg://{userinfo}{at}{location}{mark}{query}"


def weak_key(key: str) -> str | None:
    """Why `key` is too weak to sign tokens, or None. A 32-character floor admits "aaaa...": a key
    must also have many distinct characters and no long run or repeated block."""
    if len(set(key)) < 12:
        return f"only {len(set(key))} distinct characters"
    for size in range(1, len(key) // 2 + 1):
        block = key[:size]
        if (block * (len(key) // size + 1))[: len(key)] == key:
            return f"a repeated {size}-character block"
    return None


@lru_cache
def get_settings() -> Settings:
    return Settings()
