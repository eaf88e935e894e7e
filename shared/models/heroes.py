"""Teams, heroes, their items, and the audit trail of transfers.

The hero rules are enforced twice on purpose, from one statement of each: as pydantic validators
on HeroBase (clear messages for API input) and as named CHECK constraints (so no write path, raw SQL
and bulk jobs included, can store a bad hero). Each rule's numbers, SQL and message are written
once, below; the CHECKs, the validators here and in HeroUpdate (shared/heroes/schemas.py), the bulk
diagnostics (shared/heroes/bulk.py) and the messages (shared/heroes/rules.py) are made from them.
They live here, not in shared/heroes, because the tables need them and shared.models imports no
domain package (no import cycle between the packages of shared).
"""

from datetime import datetime
from typing import Self

from pydantic import field_validator, model_validator
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, Relationship, SQLModel

from shared.models.base import RAISE, created_at_field

# --- the hero rules -------------------------------------------------------------------------

NAME_MAX_LENGTH = 100
AGE_ABOVE = 0  # an age is greater than this
MIN_POWER, MAX_POWER = 0, 100
ADULT_AGE = 18
YOUNG_HERO_MAX_POWER = 50
FORBIDDEN_NAME = "secret"


def name_not_secret_sql(name: str = "name") -> str:
    """The CHECK's condition on the column `name` (a qualified one, `m.name`, for the bulk
    diagnostics). Trims whitespace as PostgreSQL's regex \\s knows it (btrim alone takes only
    spaces). Python's strip() knows more (no-break and other Unicode spaces), so the validator is
    the stricter of the two; every API and bulk path validates in Python before the database sees
    the name."""
    return rf"lower(regexp_replace({name}, '^\s+|\s+$', '', 'g')) <> '{FORBIDDEN_NAME}'"


def young_hero_power_sql(age: str = "age", power_level: str = "power_level") -> str:
    """The CHECK's condition on the columns `age` and `power_level` (qualified ones for the bulk
    diagnostics)."""
    return f"{age} >= {ADULT_AGE} OR {power_level} <= {YOUNG_HERO_MAX_POWER}"


NAME_NOT_SECRET_SQL = name_not_secret_sql()
POSITIVE_AGE_SQL = f"age > {AGE_ABOVE}"
VALID_POWER_LEVEL_SQL = f"power_level >= {MIN_POWER} AND power_level <= {MAX_POWER}"
YOUNG_HERO_POWER_SQL = young_hero_power_sql()

# What a person is told (the validators raise these; shared/heroes/rules.py names its CHECK with
# them, so a broken rule reads the same whether pydantic or PostgreSQL caught it).
POSITIVE_AGE_MESSAGE = f"age must be greater than {AGE_ABOVE}"
VALID_POWER_LEVEL_MESSAGE = f"power level must be between {MIN_POWER} and {MAX_POWER}"
NAME_NOT_SECRET_MESSAGE = f'name cannot be "{FORBIDDEN_NAME}" (in any case)'
YOUNG_HERO_POWER_MESSAGE = f"a hero under {ADULT_AGE} cannot have a power level above {YOUNG_HERO_MAX_POWER}"


def name_is_secret(name: str) -> bool:
    return name.strip().lower() == FORBIDDEN_NAME


def too_powerful_for_age(age: int, power_level: float) -> bool:
    return age < ADULT_AGE and power_level > YOUNG_HERO_MAX_POWER


class TeamBase(SQLModel):
    name: str = Field(min_length=1, max_length=100)
    headquarters: str | None = Field(default=None, max_length=200)


class Team(TeamBase, table=True):
    __table_args__ = (UniqueConstraint("name"),)

    id: int | None = Field(default=None, primary_key=True)
    heroes: list["Hero"] = Relationship(back_populates="team", sa_relationship_kwargs={"lazy": RAISE})


class TeamStats(SQLModel, table=True):
    """Each team's hero count and age sum, so /teams and /teams/top read one row per team instead
    of counting or averaging its heroes (154 ms and 10.4 s at 10^6 heroes before). Triggers on hero
    (migration 0009) append each statement's change per team to TeamStatsDelta, in the writer's
    transaction; the cron fold_team_stats adds those into these rows every few seconds. A read
    adds the deltas not folded yet, in the same statement: exact, whatever the fold's lag. Never
    written by the application."""

    __tablename__ = "team_stats"
    __table_args__ = (
        CheckConstraint("hero_count >= 0", name="hero_count_not_negative"),
        # The top team by average age: the first entry of this index (ties: the lowest team id).
        Index(
            "ix_team_stats_average_age",
            text("(age_sum::numeric / hero_count) DESC"),
            "team_id",
            postgresql_where="hero_count > 0",
        ),
    )

    team_id: int = Field(sa_column=Column(Integer, ForeignKey("team.id", ondelete="CASCADE"), primary_key=True))
    hero_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    age_sum: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})


class TeamStatsDelta(SQLModel, table=True):
    """A change to a team's hero count and age sum, not yet folded into TeamStats. Appended, never
    updated: writers moving heroes to and from the same team do not queue behind each other's row
    lock, as they did while the triggers updated TeamStats itself (5 to 9 times fewer
    transfers/s between 10 teams). No foreign key: a deleted team's deltas are dropped by the fold."""

    __tablename__ = "team_stats_delta"
    __table_args__ = (Index("ix_team_stats_delta_team_id", "team_id"),)

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    team_id: int
    heroes: int
    ages: int = Field(sa_type=BigInteger)


class HeroBase(SQLModel):
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    secret_identity: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    age: int = Field(gt=AGE_ABOVE)
    power_level: float = Field(ge=MIN_POWER, le=MAX_POWER)

    @field_validator("name")
    @classmethod
    def name_must_not_be_secret(cls, value: str) -> str:
        if name_is_secret(value):
            raise ValueError(NAME_NOT_SECRET_MESSAGE)
        return value

    @model_validator(mode="after")
    def young_heroes_have_limited_power(self) -> Self:
        if too_powerful_for_age(self.age, self.power_level):
            raise ValueError(YOUNG_HERO_POWER_MESSAGE)
        return self


class Hero(HeroBase, table=True):
    __table_args__ = (
        CheckConstraint(POSITIVE_AGE_SQL, name="positive_age"),
        CheckConstraint(VALID_POWER_LEVEL_SQL, name="valid_power_level"),
        CheckConstraint(NAME_NOT_SECRET_SQL, name="name_not_secret"),
        CheckConstraint(YOUNG_HERO_POWER_SQL, name="young_hero_power"),
        UniqueConstraint("name", "secret_identity"),
        # A team's heroes by id (its page, the nested read, /teams/top, ?team=): one range, in order.
        Index("ix_hero_team_id_id", "team_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int | None = Field(default=None, foreign_key="team.id", ondelete="SET NULL")

    team: Team | None = Relationship(back_populates="heroes", sa_relationship_kwargs={"lazy": RAISE})
    # The items go with their hero, in the database (ON DELETE CASCADE), also for bulk deletes.
    items: list["Item"] = Relationship(
        back_populates="hero", passive_deletes=True, sa_relationship_kwargs={"lazy": RAISE}
    )


class Item(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(min_length=1, max_length=100)
    hero_id: int = Field(foreign_key="hero.id", ondelete="CASCADE", index=True)

    hero: Hero | None = Relationship(back_populates="items", sa_relationship_kwargs={"lazy": RAISE})


class TransferLog(SQLModel, table=True):
    """One row per committed transfer. No foreign keys on purpose: an audit trail
    outlives the hero and the teams it names."""

    __tablename__ = "transfer_log"
    # A hero's transfers newest first, the id breaking ties: a page is one range, in order.
    __table_args__ = (Index("ix_transfer_log_hero_id_transfer_date_id", "hero_id", "transfer_date", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    hero_id: int
    from_team_id: int | None = None
    to_team_id: int | None = None
    transfer_date: datetime = Field(sa_type=DateTime(timezone=True))
    requested_by_id: int | None = None
    # The client's Idempotency-Key (with its user), for the record: not unique, since a key may be
    # used again once it expired (IDEMPOTENCY_KEY_HOURS), for a second transfer.
    idempotency_key: str | None = Field(default=None, max_length=200)
    # The outbox row that wrote this log: one log per committed transfer, even if a row were ever
    # processed twice. Kept after the row is pruned (no foreign key, like the rest of the trail).
    outbox_message_id: int | None = Field(default=None, sa_type=BigInteger, unique=True)
    logged_at: datetime = created_at_field()


class HeroUpdateItems(SQLModel, table=True):
    """The items of an accepted bulk hero update, as typed arrays (one per field; position i of
    each is item i), written with its job record. The worker applies them with one
    `UPDATE hero ... FROM unnest(...)`, which is what PostgreSQL does fastest: kept as JSON, the
    items were parsed twice (storing them, ~140 ms for 100,000, and reading them back, ~130 ms).
    A field an item leaves out is NULL in its array (none of those may be null otherwise), except
    team_id, whose explicit null ("leave the team") is told apart by `team_id_given`. A field no
    item sets has no array at all (NULL): 100,000 NULLs cost as much to send as 100,000 values."""

    __tablename__ = "hero_update_items"

    job_id: str = Field(sa_column=Column(String(64), ForeignKey("job.id", ondelete="CASCADE"), primary_key=True))
    ids: list[int] = Field(sa_column=Column(ARRAY(Integer), nullable=False))
    names: list[str | None] | None = Field(default=None, sa_column=Column(ARRAY(Text), nullable=True))
    secret_identities: list[str | None] | None = Field(default=None, sa_column=Column(ARRAY(Text), nullable=True))
    ages: list[int | None] | None = Field(default=None, sa_column=Column(ARRAY(Integer), nullable=True))
    power_levels: list[float | None] | None = Field(default=None, sa_column=Column(ARRAY(Float), nullable=True))
    team_ids: list[int | None] | None = Field(default=None, sa_column=Column(ARRAY(Integer), nullable=True))
    team_id_given: list[bool] | None = Field(default=None, sa_column=Column(ARRAY(Boolean), nullable=True))
