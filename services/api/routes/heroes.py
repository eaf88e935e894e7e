"""Teams, heroes and transfers. Reads are public; every write is for admins.

What a read shows depends on who asks: heroes' secret identities, and who requested a transfer with
which idempotency key, are for admins only (shared.heroes.service.sees_secret_identities). Anyone
else gets the public schema (HeroPublic, TeamDetail, TransferLogPublic), where those fields are
absent, not null; OpenAPI documents both shapes."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response, status

from services.api.deps import (
    CURSOR_MAX_LENGTH,
    OPTIONAL_AUTH,
    AdminUser,
    CursorParam,
    OptionalUser,
    ReadsDep,
    SessionDep,
    write_limit,
)
from services.api.problems import BODY_ERRORS, problem_responses
from shared.heroes import service, team_document, transfers
from shared.heroes.schemas import (
    DEFAULT_PAGE,
    MAX_PAGE,
    HeroBatch,
    HeroBatchCreated,
    HeroCreate,
    HeroFilters,
    HeroPublic,
    HeroRead,
    HeroUpdate,
    TeamCreate,
    TeamDetail,
    TeamDetailAdmin,
    TeamHeroesPage,
    TeamIncludes,
    TeamRead,
    TeamWithCount,
    TransferLogPublic,
    TransferLogRead,
    TransferRead,
    TransferRequest,
)
from shared.idempotency import KEY_MAX_LENGTH, REPLAYED_HEADER, IdempotentRequest, fingerprint
from shared.schemas import Page, RowId

router = APIRouter(tags=["heroes"])

WRITE_ERRORS = (401, 403)
# Writes that read a JSON body.
BODY_WRITE_ERRORS = (*BODY_ERRORS, *WRITE_ERRORS)
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="page size")]
# Row ids, checked like every other route's (shared.schemas.RowId).
TeamId = RowId
HeroId = RowId

# (No `{"to_team_id": null}` example: FastAPI drops the nulls of an OpenAPI document, examples included.)
TRANSFER_EXAMPLES = {"to-team-2": {"summary": "Move the hero to team 2", "value": {"to_team_id": 2}}}


# --- teams -----------------------------------------------------------------------------


@router.post(
    "/teams",
    status_code=status.HTTP_201_CREATED,
    summary="Create a team",
    responses=problem_responses(*BODY_WRITE_ERRORS, 409),
)
async def create_team(data: TeamCreate, session: SessionDep, admin: AdminUser) -> TeamRead:
    """Create a team (admins). A taken name is a 409 (uq_team_name)."""
    return TeamRead.model_validate(await service.create_team(session, data))


@router.get("/teams", summary="List teams with their hero counts")
async def list_teams(reads: ReadsDep, limit: Limit = DEFAULT_PAGE, cursor: CursorParam = None) -> Page[TeamWithCount]:
    """Teams by name, each with its number of heroes. The counts are kept exact as heroes are
    written (no staleness), so a page costs the same however many heroes its teams have."""
    return await reads.run(lambda session: service.list_teams(session, limit=limit, cursor=cursor))


# Before /teams/{team_id}: "top" is not a team id.
@router.get(
    "/teams/top",
    summary="The heroes of the oldest team, a page at a time",
    responses=problem_responses(401),
    openapi_extra=OPTIONAL_AUTH,
)
async def heroes_of_top_team(
    reads: ReadsDep, viewer: OptionalUser, limit: Limit = DEFAULT_PAGE, cursor: CursorParam = None
) -> TeamHeroesPage[HeroPublic] | TeamHeroesPage[HeroRead]:
    """The heroes (by id) of the team with the highest average hero age (ties: the lowest team id),
    a page at a time; `team_id` names the team, null with no heroes in any team. The averages are
    kept exact as heroes are written (no staleness): finding the team costs the same however many
    heroes there are. A `cursor` stays with its page's team. Secret identities for admins only
    (HeroRead); anyone else gets HeroPublic."""
    return await reads.run(lambda session: service.top_team_heroes(session, viewer, limit=limit, cursor=cursor))


@router.get(
    "/teams/{team_id}",
    response_model=TeamDetail | TeamDetailAdmin,
    response_model_exclude_unset=True,
    summary="Read a team, with its heroes if asked",
    responses=problem_responses(401, 404),
    openapi_extra=OPTIONAL_AUTH,
)
async def read_team(
    team_id: TeamId,
    session: SessionDep,
    viewer: OptionalUser,
    include: Annotated[TeamIncludes, Query(description="comma-separated: heroes, heroes.items (implies heroes)")] = [],  # noqa: B006 (FastAPI copies defaults; never mutated)
    heroes_limit: Annotated[
        int, Query(ge=1, le=team_document.MAX_HEROES, description="how many heroes (by id) the document holds")
    ] = team_document.DEFAULT_HEROES,
    heroes_cursor: Annotated[
        str | None, Query(max_length=CURSOR_MAX_LENGTH, description="a heroes_next_cursor, for the next heroes")
    ] = None,
) -> Response:
    """A team; with `include=heroes` a page of its heroes (by id, `heroes_limit` of them; with more
    after them, `heroes_next_cursor` is there to pass back as `heroes_cursor`), with
    `include=heroes.items` their items too. The heroes' secret identities for admins only
    (TeamDetailAdmin); anyone else gets TeamDetail."""
    # PostgreSQL builds the document (one statement), leaving out what the caller may not see;
    # it is sent as it comes, never parsed here.
    document = await service.get_team_json(
        session, team_id, include, viewer, heroes_limit=heroes_limit, heroes_cursor=heroes_cursor
    )
    return Response(document, media_type="application/json")


# --- heroes ----------------------------------------------------------------------------


@router.post(
    "/heroes",
    status_code=status.HTTP_201_CREATED,
    summary="Create a hero",
    responses=problem_responses(*BODY_WRITE_ERRORS, 404, 409),
)
async def create_hero(data: HeroCreate, session: SessionDep, admin: AdminUser) -> HeroRead:
    """Create a hero (admins). 404 for an unknown team, 409 for a taken (name, secret identity)."""
    return HeroRead.model_validate(await service.create_hero(session, data))


@router.get("/heroes", summary="List heroes", responses=problem_responses(401), openapi_extra=OPTIONAL_AUTH)
async def list_heroes(
    reads: ReadsDep, viewer: OptionalUser, filters: Annotated[HeroFilters, Query()]
) -> Page[HeroPublic] | Page[HeroRead]:
    """Heroes by id, filtered by team name, minimum age and power range; teamless heroes are
    included unless a team is asked for. Pass `next_cursor` back as `cursor` for the next page.
    Secret identities for admins only (HeroRead); anyone else gets HeroPublic."""
    return await reads.run(lambda session: service.list_heroes(session, filters, viewer))


@router.post(
    "/heroes/batch",
    status_code=status.HTTP_201_CREATED,
    summary="Create up to 1,000 heroes at once",
    responses=problem_responses(*BODY_WRITE_ERRORS, 404, 409),
)
async def create_heroes(data: HeroBatch, session: SessionDep, admin: AdminUser) -> HeroBatchCreated:
    """Create up to 1,000 heroes in one round trip, all or none; the ids come back in order.
    Errors name the index of each bad hero (`body.heroes.<index>...`)."""
    return HeroBatchCreated(ids=await service.create_hero_batch(session, data.heroes))


@router.get(
    "/heroes/{hero_id}", summary="Read a hero", responses=problem_responses(401, 404), openapi_extra=OPTIONAL_AUTH
)
async def read_hero(hero_id: HeroId, session: SessionDep, viewer: OptionalUser) -> HeroPublic | HeroRead:
    """One hero; its secret identity for admins only (HeroRead), anyone else gets HeroPublic."""
    return service.hero_view(await service.get_hero(session, hero_id), viewer)


@router.patch("/heroes/{hero_id}", summary="Change a hero", responses=problem_responses(*BODY_WRITE_ERRORS, 404, 409))
async def update_hero(hero_id: HeroId, data: HeroUpdate, session: SessionDep, admin: AdminUser) -> HeroRead:
    """Change some fields (admins). The hero as a whole must still follow every rule (422)."""
    return HeroRead.model_validate(await service.update_hero(session, hero_id, data))


@router.delete(
    "/heroes/{hero_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a hero",
    responses=problem_responses(*WRITE_ERRORS, 404),
)
async def delete_hero(hero_id: HeroId, session: SessionDep, admin: AdminUser) -> None:
    """Delete a hero and its items (admins). Its transfer history stays."""
    await service.delete_hero(session, hero_id)


# --- transfers -------------------------------------------------------------------------


@router.post(
    "/heroes/{hero_id}/transfer",
    summary="Transfer a hero to another team",
    responses=problem_responses(429, *BODY_WRITE_ERRORS, 404, 409),
    dependencies=[Depends(write_limit("transfers"))],
)
async def transfer_hero(
    hero_id: HeroId,
    data: Annotated[TransferRequest, Body(openapi_examples=TRANSFER_EXAMPLES)],
    request: Request,
    response: Response,
    session: SessionDep,
    admin: AdminUser,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=KEY_MAX_LENGTH,
            description="repeat the request with the same key to get the first response again, not a second transfer",
        ),
    ] = None,
) -> TransferRead:
    """Move a hero to another team (or none: `to_team_id: null`). 404 for an unknown hero or team,
    409 when the hero is already there. A replayed response carries `Idempotent-Replayed: true`."""
    keyed = None
    if idempotency_key is not None:
        body = data.model_dump(mode="json")
        keyed = IdempotentRequest(admin.id, idempotency_key, fingerprint(request.method, request.url.path, body))
    outcome = await transfers.transfer_hero_once(
        session,
        hero_id,
        data.to_team_id,
        requested_by_id=admin.id,
        request=keyed,
    )
    response.status_code = outcome.status_code
    if outcome.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return outcome.transfer


@router.get(
    "/heroes/{hero_id}/transfers",
    summary="List a hero's transfers",
    responses=problem_responses(401, 404),
    openapi_extra=OPTIONAL_AUTH,
)
async def transfer_history(
    hero_id: HeroId, session: SessionDep, viewer: OptionalUser, limit: Limit = MAX_PAGE, cursor: CursorParam = None
) -> Page[TransferLogPublic] | Page[TransferLogRead]:
    """The hero's logged transfers, newest first; still served after the hero is deleted. Who
    requested each, and with which idempotency key, for admins only (TransferLogRead); anyone
    else gets TransferLogPublic."""
    return await transfers.transfer_history(session, hero_id, limit=limit, cursor=cursor, viewer=viewer)
