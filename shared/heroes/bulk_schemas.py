"""The bulk hero jobs' request shapes (up to 100,000 items), validated with PATCH /heroes/{id}'s rules
before a job is accepted: pydantic-core checks each item's fields, one pass checks the rest."""

from collections import Counter
from typing import (
    Annotated,
    Required,  # pydantic needs these on Python 3.11
    Self,
)

from pydantic import ConfigDict, Field, StringConstraints, model_validator
from typing_extensions import TypedDict

from shared.models.heroes import (
    ADULT_AGE,
    NAME_NOT_SECRET_MESSAGE,
    YOUNG_HERO_POWER_MESSAGE,
    name_is_secret,
    too_powerful_for_age,
)
from shared.schemas import INT4_MAX, RowId, Strict

MAX_BULK_ITEMS = 100_000

# 1..100 characters, none of them NUL (PostgreSQL text cannot hold it); checked in pydantic-core.
HeroText = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]


class BulkHeroUpdate(TypedDict, total=False):
    """One item of a bulk update: the hero's id and the fields to set, with PATCH's rules.

    A TypedDict checked by pydantic-core alone (no Python validators per item): 100,000
    items validate in a fraction of a second instead of seconds. The two rules that need
    Python or the stored row are checked after (`items_follow_the_hero_rules`) or by the database.
    """

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[misc]  # as Strict bodies

    id: Required[RowId]
    name: HeroText
    secret_identity: HeroText
    age: Annotated[int, Field(gt=0, le=INT4_MAX)]
    power_level: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
    team_id: RowId | None


class BulkHeroUpdateRequest(Strict):
    items: list[BulkHeroUpdate] = Field(min_length=1, max_length=MAX_BULK_ITEMS)

    @model_validator(mode="after")
    def items_follow_the_hero_rules(self) -> Self:
        problems: list[str] = []
        ids = [item["id"] for item in self.items]
        # The usual case, no id repeated, costs one set; only a repeat pays for counting them.
        repeated = [] if len(set(ids)) == len(ids) else sorted(i for i, count in Counter(ids).items() if count > 1)
        if repeated:
            problems.append(f"each hero id may appear once; repeated: {repeated[:20]}")
        for index, item in enumerate(self.items):
            if len(item) == 1:
                problems.append(f"items.{index}: no field to update")
            elif "name" in item and name_is_secret(item["name"]):
                problems.append(f"items.{index}.name: {NAME_NOT_SECRET_MESSAGE}")
            # Only where the item sets both: a stored value is the database's to check (the CHECK).
            elif too_powerful_for_age(item.get("age", ADULT_AGE), item.get("power_level", 0)):
                problems.append(f"items.{index}: {YOUNG_HERO_POWER_MESSAGE}")
            if len(problems) >= 20:
                break
        if problems:
            raise ValueError("; ".join(problems))
        return self


class BulkHeroDeleteRequest(Strict):
    ids: list[RowId] = Field(min_length=1, max_length=MAX_BULK_ITEMS)
