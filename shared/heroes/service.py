"""Teams and heroes: the rules of reading and writing them. Only flushes; the edge commits."""

from collections import defaultdict
from collections.abc import Sequence

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.callers import Caller
from shared.db import flush
from shared.errors import ConstraintViolation, NotFound
from shared.heroes import batch, queries, team_document
from shared.heroes.rules import RULES
from shared.heroes.schemas import (
    HeroCreate,
    HeroFilters,
    HeroPublic,
    HeroRead,
    HeroUpdate,
    TeamCreate,
    TeamHeroesPage,
    TeamHeroPosition,
    TeamInclude,
    TeamWithCount,
)
from shared.models.heroes import Hero, Team
from shared.models.users import Role
from shared.pagination import page_as_seen, page_of
from shared.schemas import IdPosition, NamePosition, Page, row_id

TEAM_REFERENCE = "fk_hero_team_id_team"
UNIQUE_HERO = "uq_hero_name_secret_identity"


def sees_secret_identities(viewer: Caller | None) -> bool:
    """Whether `viewer` may see heroes' secret identities (and who requested a transfer, with
    which idempotency key): admins only."""
    return viewer is not None and viewer.role == Role.admin


class UnknownTeam(NotFound):
    """A hero names a team that does not exist (404); in a batch, which heroes did."""

    def __init__(self, team_id: object, indexes: Sequence[int] = ()) -> None:
        super().__init__("team", team_id)
        if indexes:
            self.message += f" (named by {', '.join(f'heroes.{i}' for i in indexes)})"


# --- teams -----------------------------------------------------------------------------


async def create_team(session: AsyncSession, data: TeamCreate) -> Team:
    team = Team.model_validate(data)
    session.add(team)
    await flush(session)  # a taken name is a ConstraintViolation on uq_team_name (409)
    return team


async def list_teams(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[TeamWithCount]:
    position = NamePosition.decode(cursor)
    teams = await queries.teams_with_hero_counts(session, limit=limit, after_name=position.name if position else None)
    return page_of(teams, limit, lambda team: NamePosition(name=team.name), page=Page[TeamWithCount])


async def top_team_heroes(
    session: AsyncSession, viewer: Caller | None, *, limit: int, cursor: str | None
) -> TeamHeroesPage[HeroPublic] | TeamHeroesPage[HeroRead]:
    """A page of the heroes of the team with the highest average hero age (ties: the lowest team
    id), as `viewer` may see them. The first page finds the team in team_stats' index (one row,
    however many heroes there are); a cursor names its team, so the pages that follow stay with
    it even if another team becomes the oldest meanwhile."""
    position = TeamHeroPosition.decode(cursor)
    team = position.team_id if position else queries.oldest_team_statement().scalar_subquery()
    after_id = position.id if position else None
    heroes = await queries.heroes_of_team(session, team, limit=limit, after_id=after_id)
    # The oldest team has heroes (teams without are not in the index): with none, no team has any.
    team_id = position.team_id if position else (heroes[0].team_id if heroes else None)

    def position_of(hero: Hero) -> TeamHeroPosition:
        return TeamHeroPosition(team_id=team_id, id=row_id(hero))  # only called for heroes: team_id is set

    page = page_as_seen(
        heroes,
        limit,
        position_of,
        full=sees_secret_identities(viewer),
        admin=(HeroRead.model_validate, TeamHeroesPage[HeroRead]),
        public=(HeroPublic.model_validate, TeamHeroesPage[HeroPublic]),
    )
    page.team_id = team_id
    return page


async def get_team_json(
    session: AsyncSession,
    team_id: int,
    includes: Sequence[TeamInclude] = (),
    viewer: Caller | None = None,
    *,
    heroes_limit: int = team_document.DEFAULT_HEROES,
    heroes_cursor: str | None = None,
) -> str:
    """The team as TeamDetail JSON text (TeamDetailAdmin, with secret identities, for admins), with
    a page of its heroes only if asked for (`heroes_limit` after `heroes_cursor`), and their items
    only if asked for (`heroes.items` implies `heroes`); fields not asked for are absent, not null."""
    with_items = TeamInclude.hero_items in includes
    with_heroes = with_items or TeamInclude.heroes in includes
    position = IdPosition.decode(heroes_cursor, field="query.heroes_cursor")
    document = await team_document.team_detail_json(
        session,
        team_id,
        heroes=team_document.HeroesPage(heroes_limit, position.id if position else None) if with_heroes else None,
        with_items=with_items,
        with_secret_identity=sees_secret_identities(viewer),
    )
    if document is None:
        raise NotFound("team", team_id)
    return document


# --- heroes ----------------------------------------------------------------------------


def hero_view(hero: Hero, viewer: Caller | None) -> HeroPublic | HeroRead:
    """The hero as `viewer` may see it: with its secret identity for admins only."""
    if sees_secret_identities(viewer):
        return HeroRead.model_validate(hero)
    return HeroPublic.model_validate(hero)


def heroes_view(heroes: Sequence[Hero], viewer: Caller | None) -> list[HeroPublic] | list[HeroRead]:
    """`hero_view` of each hero."""
    if sees_secret_identities(viewer):
        return [HeroRead.model_validate(hero) for hero in heroes]
    return [HeroPublic.model_validate(hero) for hero in heroes]


async def list_heroes(
    session: AsyncSession, filters: HeroFilters, viewer: Caller | None = None
) -> Page[HeroPublic] | Page[HeroRead]:
    """One page of heroes by id (a keyset: stable while heroes are added or removed), with their
    secret identities for admins only."""
    position = IdPosition.decode(filters.cursor)
    after_id = position.id if position else None
    heroes = await queries.filter_heroes(
        session,
        team_name=filters.team,
        min_age=filters.min_age,
        min_power=filters.min_power,
        max_power=filters.max_power,
        limit=filters.limit,
        after_id=after_id,
    )
    return page_as_seen(
        heroes,
        filters.limit,
        _hero_position,
        full=sees_secret_identities(viewer),
        admin=(HeroRead.model_validate, Page[HeroRead]),
        public=(HeroPublic.model_validate, Page[HeroPublic]),
    )


def _hero_position(hero: Hero) -> IdPosition:
    return IdPosition(id=row_id(hero))


async def get_hero(session: AsyncSession, hero_id: int, *, for_update: bool = False) -> Hero:
    hero = await session.get(Hero, hero_id, with_for_update=for_update)
    if hero is None:
        raise NotFound("hero", hero_id)
    return hero


async def create_hero(session: AsyncSession, data: HeroCreate) -> Hero:
    hero = Hero.model_validate(data)
    session.add(hero)
    await _flush_hero(session, hero.team_id)
    return hero


async def update_hero(session: AsyncSession, hero_id: int, data: HeroUpdate) -> Hero:
    """Apply a partial update. The merged hero must satisfy every rule (422 naming the rule),
    stay unique (409) and name an existing team (404)."""
    hero = await get_hero(session, hero_id, for_update=True)
    try:
        data.merged_with(hero)
    except ValidationError as error:
        raise _broken_rule(error) from error
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(hero, field, value)
    await _flush_hero(session, hero.team_id)
    return hero


async def delete_hero(session: AsyncSession, hero_id: int) -> None:
    """Delete the hero (its items go with it, by ON DELETE CASCADE; its transfer history stays)."""
    deleted = await batch.delete_heroes(session, [hero_id])
    if not deleted.ids:
        raise NotFound("hero", hero_id)


async def create_hero_batch(session: AsyncSession, heroes: Sequence[HeroCreate]) -> list[int]:
    """All heroes in one INSERT round trip, or none. A duplicate (in the batch or against the
    database) is a 409 naming the rule and the indexes; an unknown team a 404 naming them."""
    _refuse_duplicates_within(heroes)
    try:
        return await batch.create_heroes(session, heroes)
    except ConstraintViolation as error:
        raise _located_in_batch(error, heroes) from error


async def _flush_hero(session: AsyncSession, team_id: int | None) -> None:
    try:
        await flush(session)
    except ConstraintViolation as error:
        if error.constraint == TEAM_REFERENCE:
            raise UnknownTeam(team_id) from error
        raise


def _broken_rule(error: ValidationError) -> ConstraintViolation:
    """A merged hero that breaks a rule: the rule's name and message, as the database would
    say it, without having written anything."""
    messages = [str(detail["msg"]).removeprefix("Value error, ") for detail in error.errors()]
    constraint = next(
        (name for name, rule in RULES.items() if name.startswith("ck_hero_") and rule.message in messages), None
    )
    fields = RULES[constraint].fields if constraint else tuple(str(d["loc"][-1]) for d in error.errors() if d["loc"])
    return ConstraintViolation(
        kind="check", constraint=constraint, table="hero", fields=fields, message="; ".join(messages), value=None
    )


def _refuse_duplicates_within(heroes: Sequence[HeroCreate]) -> None:
    indexes_by_identity: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, hero in enumerate(heroes):
        indexes_by_identity[(hero.name, hero.secret_identity)].append(index)
    clashes = [indexes for indexes in indexes_by_identity.values() if len(indexes) > 1]
    if clashes:
        described = "; ".join(" and ".join(f"heroes.{i}" for i in indexes) for indexes in clashes)
        raise _duplicate_heroes(
            [i for indexes in clashes for i in indexes], f"the batch repeats a name and secret identity: {described}"
        )


def _located_in_batch(error: ConstraintViolation, heroes: Sequence[HeroCreate]) -> Exception:
    """Name the heroes of the batch the database refused, where its report tells which."""
    if error.constraint == UNIQUE_HERO:
        indexes = [i for i, hero in enumerate(heroes) if f"{hero.name}, {hero.secret_identity}" == error.value]
        if indexes:
            where = ", ".join(f"heroes.{i}" for i in indexes)
            return _duplicate_heroes(indexes, f"{RULES[UNIQUE_HERO].message} ({error.value}): {where}")
    if error.constraint == TEAM_REFERENCE and error.value is not None:
        indexes = [i for i, hero in enumerate(heroes) if str(hero.team_id) == error.value]
        return UnknownTeam(error.value, indexes)
    return error


def _duplicate_heroes(indexes: Sequence[int], message: str) -> ConstraintViolation:
    fields = tuple(f"body.heroes.{i}.{field}" for i in indexes for field in RULES[UNIQUE_HERO].fields)
    return ConstraintViolation(
        kind="unique", constraint=UNIQUE_HERO, table="hero", fields=fields, message=message, value=None
    )


__all__ = [
    "UnknownTeam",
    "create_hero",
    "create_hero_batch",
    "create_team",
    "delete_hero",
    "get_hero",
    "get_team_json",
    "hero_view",
    "heroes_view",
    "list_heroes",
    "list_teams",
    "sees_secret_identities",
    "update_hero",
]
