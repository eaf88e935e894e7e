"""The demo data set: fills an empty database, refuses a used one, and the API serves it."""

import pytest
from httpx import AsyncClient
from sqlmodel import func, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from guildhall.demo import DEMO_PASSWORD, seed_demo
from shared.errors import Conflict
from shared.models.blog import Comment, Post
from shared.models.catalog import Category, Product
from shared.models.courses import Course, Enrollment, Student
from shared.models.heroes import Hero, Item, Team
from shared.models.tagging import Article, Image, Tag
from shared.models.users import User

TABLES = {
    "users": User,
    "categories": Category,
    "products": Product,
    "posts": Post,
    "comments": Comment,
    "teams": Team,
    "heroes": Hero,
    "items": Item,
    "students": Student,
    "courses": Course,
    "enrollments": Enrollment,
    "articles": Article,
    "images": Image,
    "tags": Tag,
}


@pytest.fixture
async def empty(session: AsyncSession) -> AsyncSession:
    # Other tests' committed rows never reach here (each test rolls back), but be explicit.
    await session.exec(text("TRUNCATE user_account, category, team, student, course, article, image CASCADE"))  # type: ignore[call-overload]
    return session


async def test_seed_demo_touches_every_resource_and_refuses_a_second_time(empty: AsyncSession) -> None:
    summary = await seed_demo(empty)
    for name, model in TABLES.items():
        stored = (await empty.exec(select(func.count()).select_from(model))).one()
        assert stored == summary.counts[name] > 0, name
    assert {role for _, role in summary.users} == {"admin", "moderator", "author"}
    with pytest.raises(Conflict):
        await seed_demo(empty)


async def test_the_demo_logins_work_and_the_api_serves_the_data(empty: AsyncSession, client: AsyncClient) -> None:
    await seed_demo(empty)
    token = await client.post("/api/v1/auth/token", data={"username": "admin", "password": DEMO_PASSWORD})
    assert token.status_code == 200
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    posts = (await client.get("/api/v1/posts")).json()["items"]
    assert {post["title"] for post in posts} == {"Why async SQLModel", "Dragons I have known"}
    assert (await client.get("/api/v1/tags/python")).status_code == 200
    assert (await client.get("/api/v1/users/me", headers=headers)).json()["role"] == "admin"
