"""Baseline (a), "seed-sync": the reference document's way.

Sync endpoints (`def`: FastAPI runs each in its threadpool), a sqlmodel `Session` per request
from a yield dependency, psycopg 3, `session.add` / `commit` / `refresh`, and the document's
`transfer_hero_between_teams`: `session.get` the hero, set `team_id`, add a TransferLog in the
same transaction, commit. No row lock (the document takes none).
"""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, status
from sqlmodel import Session, create_engine

from bench.baselines.config import from_env
from bench.baselines.schemas import PostCreate, PostRead, TransferRead, TransferRequest
from bench.baselines.tables import Hero, Post, TransferLog, now_utc

config = from_env()
engine = create_engine(
    config.url_for("postgresql+psycopg"), pool_size=config.pool_size, max_overflow=config.max_overflow
)
app = FastAPI()


def get_session() -> Iterator[Session]:
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/posts", status_code=status.HTTP_201_CREATED, response_model=PostRead)
def create_post(data: PostCreate, session: SessionDep) -> Post:
    post = Post(**data.model_dump(), author_id=config.author_id)
    session.add(post)
    session.commit()
    session.refresh(post)
    return post


def transfer_hero_between_teams(session: Session, hero_id: int, new_team_id: int | None) -> TransferLog:
    hero = session.get(Hero, hero_id)
    if hero is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "hero not found")
    log = TransferLog(hero_id=hero_id, from_team_id=hero.team_id, to_team_id=new_team_id, transfer_date=now_utc())
    hero.team_id = new_team_id
    session.add(hero)
    session.add(log)
    session.commit()
    session.refresh(log)
    return log


@app.post("/heroes/{hero_id}/transfer", response_model=TransferRead)
def transfer_hero(hero_id: int, data: TransferRequest, session: SessionDep) -> TransferLog:
    return transfer_hero_between_teams(session, hero_id, data.to_team_id)
