"""Request and response shapes for teams and heroes (never the table classes themselves)."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, Self, TypeVar

from pydantic import BeforeValidator, ConfigDict, field_validator, model_validator
from sqlmodel import Field, SQLModel

from shared.models.heroes import (
    ADULT_AGE,
    AGE_ABOVE,
    MAX_POWER,
    MIN_POWER,
    NAME_MAX_LENGTH,
    YOUNG_HERO_MAX_POWER,
    YOUNG_HERO_POWER_MESSAGE,
    HeroBase,
    TeamBase,
    too_powerful_for_age,
)
from shared.schemas import INT4_MAX, CursorPosition, Page, RowId, Strict, describe, omittable

MAX_PAGE = 100
DEFAULT_PAGE = 50
MAX_BATCH = 1_000
# The hero columns a client writes (team_id aside): what a partial update merges over.
HERO_FIELDS = ("name", "secret_identity", "age", "power_level")
POWER_LEVEL_DESCRIPTION = f"{MIN_POWER} to {MAX_POWER}; at most {YOUNG_HERO_MAX_POWER} under the age of {ADULT_AGE}."


class TeamCreate(TeamBase, Strict):
    model_config = ConfigDict(
        json_schema_extra=describe(name="Unique.", headquarters="Where the team is based, if anywhere.")
    )


class TeamRead(TeamBase):
    id: int


HeroT = TypeVar("HeroT")


class TeamHeroesPage(Page[HeroT], Generic[HeroT]):
    """A page of one team's heroes by id (GET /teams/top): `team_id` names the team (None when no
    team has heroes); a next page, asked for with its cursor, stays with that team."""

    team_id: int | None = None


class TeamHeroPosition(CursorPosition):
    """Where a page of a team's heroes ended: the team, and the last hero's id."""

    team_id: RowId
    id: RowId


class TeamWithCount(SQLModel):
    id: int
    name: str
    hero_count: int
    headquarters: str | None = None


class HeroCreate(HeroBase, Strict):
    model_config = ConfigDict(
        json_schema_extra=describe(
            name='The hero\'s public name; not "secret" (in any case).',
            secret_identity="Who the hero really is: shown to admins only. (name, secret_identity) is unique.",
            power_level=POWER_LEVEL_DESCRIPTION,
        )
    )

    age: int = Field(gt=AGE_ABOVE, le=INT4_MAX, description="In years.")
    team_id: RowId | None = Field(default=None, description="The hero's team, if any.")


class HeroUpdate(Strict):
    """A partial update. Cross-field rules need the stored row too: see `merged_with`."""

    name: str | None = omittable(
        min_length=1, max_length=NAME_MAX_LENGTH, description='A new public name; not "secret".'
    )
    secret_identity: str | None = omittable(
        min_length=1, max_length=NAME_MAX_LENGTH, description="A new secret identity."
    )
    age: int | None = omittable(gt=AGE_ABOVE, le=INT4_MAX, description="A new age, in years.")
    power_level: float | None = omittable(ge=MIN_POWER, le=MAX_POWER, description=POWER_LEVEL_DESCRIPTION)
    team_id: RowId | None = Field(default=None, description="A new team; null: the hero leaves any team.")

    @field_validator("name")
    @classmethod
    def name_must_not_be_secret(cls, value: str | None) -> str | None:
        return value if value is None else HeroBase.name_must_not_be_secret(value)

    @model_validator(mode="after")
    def no_explicit_nulls_for_required(self) -> Self:
        for field in HERO_FIELDS:
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        # Both given: the rule can be checked now; one alone waits for the stored row (merged_with).
        if self.age is not None and self.power_level is not None and too_powerful_for_age(self.age, self.power_level):
            raise ValueError(YOUNG_HERO_POWER_MESSAGE)
        return self

    def merged_with(self, current: HeroBase) -> HeroBase:
        """The hero as it would be after this update, validated as a whole (raises ValidationError):
        lowering the age alone can break a rule that also needs the stored power level."""
        stored = {field: getattr(current, field) for field in HERO_FIELDS}
        return HeroBase.model_validate(stored | self.model_dump(include=set(HERO_FIELDS), exclude_unset=True))


class HeroPublic(SQLModel):
    """A hero as anyone sees it: without the secret identity (absent, not null), which only
    admins see (HeroRead; shared.heroes.service.sees_secret_identities)."""

    name: str
    age: int
    power_level: float
    id: int
    team_id: int | None


class HeroRead(HeroBase):
    """A hero with its secret identity: admins only (their writes answer it; reads for them)."""

    id: int
    team_id: int | None


class ItemRead(SQLModel):
    id: int
    name: str


class HeroInTeam(HeroPublic):
    """A hero inside a team detail, as anyone sees it; `items` is present only when asked for."""

    items: list[ItemRead] | None = None


class HeroInTeamAdmin(HeroRead):
    """A hero inside a team detail, as admins see it (with its secret identity)."""

    items: list[ItemRead] | None = None


class TeamDetail(TeamRead):
    """A team; `heroes` (a page of them, by id) is present only when asked for (`include=heroes`),
    and `heroes_next_cursor` only when more heroes follow. Serialize with exclude_unset so what was
    not asked for is absent, not null."""

    heroes: list[HeroInTeam] | None = None
    heroes_next_cursor: str | None = None


class TeamDetailAdmin(TeamRead):
    """TeamDetail as admins see it: its heroes with their secret identities."""

    heroes: list[HeroInTeamAdmin] | None = None
    heroes_next_cursor: str | None = None


class TeamInclude(StrEnum):
    heroes = "heroes"
    hero_items = "heroes.items"


def _split_commas(value: Any) -> Any:
    """`include=heroes,heroes.items` and `include=heroes&include=heroes.items` mean the same."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list | tuple):
        return value
    return [part.strip() for item in values for part in str(item).split(",") if part.strip()]


# Unknown values fail validation with a message listing the allowed ones.
TeamIncludes = Annotated[list[TeamInclude], BeforeValidator(_split_commas)]


class HeroFilters(Strict):
    """The query of GET /heroes: every filter optional; heroes without a team are listed
    unless a team is asked for."""

    # Query parameters arrive as text: numbers are parsed from it (not strict, unlike bodies).
    model_config = ConfigDict(extra="forbid", strict=False)

    team: str | None = Field(default=None, min_length=1, max_length=100, description="team name")
    min_age: int | None = Field(default=None, ge=0, le=INT4_MAX)
    min_power: float | None = Field(default=None, ge=MIN_POWER, le=MAX_POWER)
    max_power: float | None = Field(default=None, ge=MIN_POWER, le=MAX_POWER)
    limit: int = Field(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def power_range_is_not_empty(self) -> Self:
        if self.min_power is not None and self.max_power is not None and self.min_power > self.max_power:
            raise ValueError("min_power cannot be greater than max_power")
        return self


class HeroBatch(Strict):
    """Up to 1,000 heroes created together or not at all; errors name `heroes.<index>`."""

    heroes: list[HeroCreate] = Field(min_length=1, max_length=MAX_BATCH, description="1 to 1,000 new heroes.")


class HeroBatchCreated(SQLModel):
    ids: list[int] = Field(description="the new ids, in the order of the heroes sent")


class TransferRequest(Strict):
    to_team_id: RowId | None = Field(description="the team to join, or null to leave any team")


class TransferRead(SQLModel):
    """A committed transfer (its TransferLog row is written afterwards by the worker)."""

    hero_id: int
    from_team_id: int | None
    to_team_id: int | None
    transfer_date: datetime
    requested_by_id: int | None
    idempotency_key: str | None = None


class TransferLogPublic(SQLModel):
    """A logged transfer as anyone sees it: who requested it, and with which idempotency key, are
    absent (not null); only admins see them (TransferLogRead)."""

    id: int
    hero_id: int
    from_team_id: int | None
    to_team_id: int | None
    transfer_date: datetime
    logged_at: datetime


class TransferLogRead(SQLModel):
    """A logged transfer with its requester and key: admins only."""

    id: int
    hero_id: int
    from_team_id: int | None
    to_team_id: int | None
    transfer_date: datetime
    requested_by_id: int | None
    idempotency_key: str | None
    logged_at: datetime
