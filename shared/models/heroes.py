"""Teams, heroes, their items, and the audit trail of transfers.

The hero rules live twice on purpose: as pydantic validators on HeroBase (clear
messages for API input) and as named CHECK/UNIQUE constraints (so no write path,
raw SQL and bulk jobs included, can store a bad hero).
"""

from datetime import datetime
from typing import Self

from pydantic import field_validator, model_validator
from sqlalchemy import (
    ARRAY,
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
)
from sqlmodel import Field, Relationship, SQLModel

from shared.models.base import RAISE, created_at_field

# Trims whitespace as PostgreSQL's regex \s knows it (btrim alone takes only spaces). Python's
# strip() knows more (no-break and other Unicode spaces), so the validator is the stricter of
# the two; every API and bulk path validates in Python before the database sees the name.
NAME_NOT_SECRET_SQL = r"lower(regexp_replace(name, '^\s+|\s+$', '', 'g')) <> 'secret'"
ADULT_AGE = 18
YOUNG_HERO_MAX_POWER = 50


class TeamBase(SQLModel):
    name: str = Field(min_length=1, max_length=100)
    headquarters: str | None = Field(default=None, max_length=200)


class Team(TeamBase, table=True):
    __table_args__ = (UniqueConstraint("name"),)

    id: int | None = Field(default=None, primary_key=True)
    heroes: list["Hero"] = Relationship(back_populates="team", sa_relationship_kwargs={"lazy": RAISE})


class HeroBase(SQLModel):
    name: str = Field(min_length=1, max_length=100)
    secret_identity: str = Field(min_length=1, max_length=100)
    age: int = Field(gt=0)
    power_level: float = Field(ge=0, le=100)

    @field_validator("name")
    @classmethod
    def name_must_not_be_secret(cls, value: str) -> str:
        if value.strip().lower() == "secret":
            raise ValueError('name cannot be "secret" (in any case)')
        return value

    @model_validator(mode="after")
    def young_heroes_have_limited_power(self) -> Self:
        if self.age < ADULT_AGE and self.power_level > YOUNG_HERO_MAX_POWER:
            raise ValueError(f"a hero under {ADULT_AGE} cannot have a power level above {YOUNG_HERO_MAX_POWER}")
        return self


class Hero(HeroBase, table=True):
    __table_args__ = (
        CheckConstraint("age > 0", name="positive_age"),
        CheckConstraint("power_level >= 0 AND power_level <= 100", name="valid_power_level"),
        CheckConstraint(NAME_NOT_SECRET_SQL, name="name_not_secret"),
        CheckConstraint(f"age >= {ADULT_AGE} OR power_level <= {YOUNG_HERO_MAX_POWER}", name="young_hero_power"),
        UniqueConstraint("name", "secret_identity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int | None = Field(default=None, foreign_key="team.id", ondelete="SET NULL", index=True)

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
    __table_args__ = (Index("ix_transfer_log_hero_id_transfer_date", "hero_id", "transfer_date"),)

    id: int | None = Field(default=None, primary_key=True)
    hero_id: int
    from_team_id: int | None = None
    to_team_id: int | None = None
    transfer_date: datetime = Field(sa_type=DateTime(timezone=True))
    requested_by_id: int | None = None
    idempotency_key: str | None = Field(default=None, max_length=200, unique=True)
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
