"""Request and response shapes for teams and heroes (never the table classes themselves)."""

from typing import Self

from pydantic import field_validator, model_validator
from sqlmodel import Field, SQLModel

from shared.models.heroes import ADULT_AGE, YOUNG_HERO_MAX_POWER, HeroBase, TeamBase
from shared.schemas import Strict


class TeamCreate(TeamBase, Strict):
    pass


class TeamRead(TeamBase):
    id: int


class TeamWithCount(SQLModel):
    id: int
    name: str
    hero_count: int


class HeroCreate(HeroBase, Strict):
    team_id: int | None = None


class HeroUpdate(Strict):
    """A partial update. Cross-field rules need the stored row too: see `merged_with`."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    secret_identity: str | None = Field(default=None, min_length=1, max_length=100)
    age: int | None = Field(default=None, gt=0)
    power_level: float | None = Field(default=None, ge=0, le=100)
    team_id: int | None = None

    @field_validator("name")
    @classmethod
    def name_must_not_be_secret(cls, value: str | None) -> str | None:
        return value if value is None else HeroBase.name_must_not_be_secret(value)

    @model_validator(mode="after")
    def no_explicit_nulls_for_required(self) -> Self:
        for field in ("name", "secret_identity", "age", "power_level"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        if (
            self.age is not None
            and self.power_level is not None
            and self.age < ADULT_AGE
            and self.power_level > YOUNG_HERO_MAX_POWER
        ):
            raise ValueError(f"a hero under {ADULT_AGE} cannot have a power level above {YOUNG_HERO_MAX_POWER}")
        return self


class HeroRead(HeroBase):
    id: int
    team_id: int | None


class ItemRead(SQLModel):
    id: int
    name: str


class HeroWithItems(HeroRead):
    items: list[ItemRead]


class TeamWithHeroes(TeamRead):
    heroes: list[HeroRead]


class TeamWithHeroesAndItems(TeamRead):
    heroes: list[HeroWithItems]
