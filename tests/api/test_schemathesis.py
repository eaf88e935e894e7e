"""Schemathesis against the real app and its real database, as an admin and as an author.

Stateless (`test_stateless`, one item per operation and role): every operation of the OpenAPI
document with positive and negative data, in schemathesis's examples, coverage (boundary values,
missing and wrong-typed fields, each documented constraint broken in turn) and fuzzing phases.
Stateful (`test_stateful`): sequences that feed one response's ids into the next request, along the
links schemathesis infers from the schemas (POST /heroes -> GET/PATCH/DELETE /heroes/{hero_id}, ...).

Every response must pass the five checks in CHECKS. Each undocumented status is fixed in the OpenAPI
(services/api/problems.py::problem_responses), never silenced here; negative_data_rejection runs on
every operation: no operation takes data its schema rules out as a business rule of its own. One
mismatch other seeds find, not yet fixed (it is in shared/): a name field that is trimmed
(StringConstraints(strip_whitespace=True, max_length=N)) checks its length after trimming, so a
padded string over the documented maxLength is accepted (POST /products, name " " + 200 characters).

Fixed seed, no example database (a run replays nothing from an earlier one): the same code and the
same test selection send the same requests. (Hypothesis also draws, now and then, constants found in
the project's modules imported so far, so this module alone can draw differently from the whole
suite; every failure prints a curl command that reproduces it.) With this budget a run sends about
9,000 requests (`test_the_budget_was_spent` holds the floor of 2,000) in about 1.5 minutes on a
2-core machine.

The app runs in-process on schemathesis's ASGI transport, whose requests all run on one event loop
thread. The app's lifespan is replaced: on that loop it opens one connection to the test database
and one outer transaction, binds each request's session to it in savepoint mode (as the `app`
fixture of the other API tests does: a request commits or rolls back its own work, with the engine
settings of production: statement and lock timeouts), and rolls it all back when the module ends.
"""

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.python.asgi import get_client, shutdown_lifespans
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.main import create_app
from shared.auth.callers import CallerCache
from shared.auth.tokens import create_access_token
from shared.db import create_engine
from shared.jobs.queues import create_job_pool
from shared.models.users import Role
from shared.settings import get_settings
from tests.conftest import clear_job_keys, database_url_for_tests, redis_url_for_tests
from tests.shared.factories import make_user

SEED = 20261130
# Fuzzing cases per operation and role; the examples and coverage phases add their own (most of
# the requests: about 2,500 per role).
MAX_EXAMPLES = 25
# Per role: scenarios of up to STATEFUL_MAX_STEPS requests each.
STATEFUL_SCENARIOS = 40
STATEFUL_MAX_STEPS = 10
# The least a full run must send (all phases, both roles).
BUDGET = 2_000

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "content_type_conformance",
    "negative_data_rejection",
)

CONFIG = {
    "seed": SEED,
    # Timing-based, so it could fail a run on a busy machine; nothing else about it is deterministic.
    "suppress-health-check": ["too_slow"],
    "generation": {
        "mode": "all",
        "max-examples": MAX_EXAMPLES,
        "database": "none",
        # The caller's token is ours (admin or author); generated tokens would only ever answer 401.
        "with-security-parameters": False,
    },
    # Only these checks; the others (positive_data_acceptance, use_after_free, ignored_auth, ...)
    # are not what this suite holds the API to.
    "checks": {
        "enabled": False,
        **{name: {"enabled": True} for name in CHECKS},
        # schemathesis's list, and 413: a negative body can be over MAX_BODY_BYTES (a string past
        # its maxLength, 1.2 MB of it), and the limit refuses it before validation does.
        "negative_data_rejection": {
            "enabled": True,
            "expected-statuses": [str(code) for code in (400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429)]
            + ["5xx"],
        },
    },
    "phases": {"stateful": {"max-steps": STATEFUL_MAX_STEPS}},
}

ROLES = (Role.admin, Role.author)

# Requests sent, by phase.
SENT: Counter[str] = Counter()
# Authorization headers by role, filled when the app starts (the users live in its transaction).
CALLERS: dict[Role, dict[str, str]] = {}


def fuzzed_app() -> FastAPI:
    """The real app, whose lifespan binds it to one connection and one transaction, rolled back at its end."""
    settings = get_settings().model_copy(
        update={
            "database_url": database_url_for_tests().render_as_string(hide_password=False),
            "redis_url": redis_url_for_tests(),
        }
    )
    app = create_app(settings)

    @asynccontextmanager
    async def one_transaction(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings, pool_size=2, max_overflow=2)
        job_pool = create_job_pool(redis_url_for_tests())
        try:
            async with engine.connect() as connection:
                outer = await connection.begin()
                factory = async_sessionmaker(
                    bind=connection,
                    class_=AsyncSession,
                    expire_on_commit=False,
                    join_transaction_mode="create_savepoint",
                )
                app.state.engine = engine
                app.state.session_factory = factory
                app.state.job_pool = app.state.redis = job_pool
                app.state.caller_cache = CallerCache(ttl_seconds=0)
                async with factory() as session:
                    for role in ROLES:
                        user = await make_user(session, role=role)
                        token, _ = create_access_token(user.id, settings)  # type: ignore[arg-type]
                        CALLERS[role] = {"Authorization": f"Bearer {token}"}
                    await session.commit()
                try:
                    yield
                finally:
                    await outer.rollback()
        finally:
            # Outbox and bulk-job triggers enqueued after the requests' commits: no worker runs here.
            await clear_job_keys(job_pool)
            await job_pool.aclose()
            await engine.dispose()

    app.router.lifespan_context = one_transaction
    return app


APP = fuzzed_app()
# The document /openapi.json serves, read without starting the app (that needs the test database,
# which exists only once the `database_url` fixture has run).
schema = schemathesis.openapi.from_dict(APP.openapi(), config=schemathesis.Config.from_dict(CONFIG))
schema.app = APP


@pytest.fixture(scope="module")
def callers(database_url: URL) -> Iterator[dict[Role, dict[str, str]]]:
    """Starts the app on schemathesis's event loop thread (where every generated request runs) and
    stops it after the module, rolling back all the requests did."""
    with get_client(APP) as client:
        assert client.get("/healthz").status_code == 200
    try:
        yield CALLERS
    finally:
        shutdown_lifespans()


@schema.parametrize()
@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.value)
def test_stateless(case: schemathesis.Case, role: Role, callers: dict[Role, dict[str, str]]) -> None:
    SENT[case.meta.phase.name.value if case.meta is not None else "explicit"] += 1
    case.call_and_validate(headers=callers[role])


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.value)
def test_stateful(role: Role, callers: dict[Role, dict[str, str]]) -> None:
    headers = callers[role]

    class Scenarios(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:
            SENT["stateful"] += 1
            return {"headers": headers}

    hypothesis.seed(SEED)(Scenarios)
    Scenarios.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_MAX_STEPS,
            deadline=None,
            database=None,
            # Explicit, so Hypothesis's `ci` profile (CI=true) cannot change what runs.
            derandomize=False,
            suppress_health_check=[hypothesis.HealthCheck.too_slow],
        )
    )
    assert SENT["stateful"] > 0


def test_the_budget_was_spent(request: pytest.FixtureRequest) -> None:
    """Runs after the tests above (file order): a change of configuration or schema that made the
    generated requests fewer than BUDGET fails here instead of quietly testing less."""
    operations = sum(1 for _ in schema.get_all_operations())
    selected = [item for item in request.session.items if item.module is request.node.module]
    if len(selected) < (operations + 1) * len(ROLES) + 1:
        pytest.skip("only part of this module was selected: its budget is for a full run")
    # Shown with -rP (or -s): how many requests each phase sent.
    print(f"schemathesis sent {sum(SENT.values())} requests: {dict(SENT)}")
    assert sum(SENT.values()) >= BUDGET, dict(SENT)
    assert all(SENT[phase] > 0 for phase in ("coverage", "fuzzing", "stateful")), dict(SENT)
