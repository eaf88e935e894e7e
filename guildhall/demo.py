"""`guildhall seed-demo`: a small, believable data set touching every resource."""

from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import SQLModel, col, exists, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from shared.auth.passwords import hash_password
from shared.db import flush
from shared.errors import Conflict
from shared.models.base import now_utc
from shared.models.blog import Comment, ModerationState, Post
from shared.models.catalog import Category, Product
from shared.models.courses import Course, Enrollment, Student
from shared.models.heroes import Hero, Item, Team
from shared.models.tagging import Article, Image, Tag
from shared.models.users import Role, User
from shared.schemas import row_id

DEMO_PASSWORD = "guildhall-demo"
DEMO_USERS = [("admin", Role.admin), ("mod", Role.moderator), ("alice", Role.author), ("bob", Role.author)]
# The demo users' password is public (it is in the README), so the data set is for a developer's
# own database only: anywhere else it would be an admin account anyone can sign in to.
DEMO_ENVIRONMENT = "development"


def development_only(environment: str, what: str, nothing: str = "nothing was written") -> str | None:
    """Why `what` must not happen in `environment` (one line), or None where it may (development)."""
    if environment == DEMO_ENVIRONMENT:
        return None
    return f"refused: ENVIRONMENT={environment}; {what} is only for ENVIRONMENT={DEMO_ENVIRONMENT}; {nothing}"


def demo_refusal(environment: str) -> str | None:
    """Why seed-demo must not run in `environment` (one line), or None where it may."""
    return development_only(environment, f"the demo data (admin / {DEMO_PASSWORD}, a public password)")


def reset_refusal(environment: str) -> str | None:
    """Why reset-db must not run in `environment`: emptying every table is for a developer's own data."""
    return development_only(environment, "emptying every table (reset-db)", "nothing was emptied")


@dataclass(frozen=True)
class DemoSummary:
    users: list[tuple[str, str]]
    counts: dict[str, int]


async def _categories(session: AsyncSession) -> dict[str, Category]:
    tree = {"Books": ["Fiction", "Science"], "Fiction": ["Fantasy", "Mystery"], "Gadgets": ["Phones"]}
    made: dict[str, Category] = {}
    for name in ("Books", "Gadgets", "Fiction", "Science", "Fantasy", "Mystery", "Phones"):
        parent = next((p for p, children in tree.items() if name in children), None)
        category = Category(name=name, parent_id=made[parent].id if parent else None)
        session.add(category)
        await flush(session)  # one per level: children need their parent's id
        made[name] = category
    return made


# Every table the demo fills but the users': one row in any of them and the demo would mix with
# data already there (or trip over its unique names: a second run's "Avengers", "CS300").
CONTENT: tuple[type[SQLModel], ...] = (
    Category,
    Product,
    Post,
    Comment,
    Team,
    Hero,
    Item,
    Student,
    Course,
    Enrollment,
    Article,
    Image,
    Tag,
)
START_OVER = "to start over, empty the database with `guildhall reset-db --yes`"


async def _refusal(session: AsyncSession) -> str | None:
    """Why the demo cannot go into this database (one line), or None. Users of one's own are welcome
    (the README creates an admin first); the demo's own usernames and e-mails, and any content, are not."""
    names = [name for name, _ in DEMO_USERS]
    emails = [_email(name) for name in names]
    rows = (
        await session.exec(
            # lower(email): the unique index is on it, so "Admin@Guildhall.example" is taken too.
            select(User.username, User.email).where(col(User.username).in_(names) | func.lower(User.email).in_(emails))
        )
    ).all()
    taken = sorted({username if username in names else email for username, email in rows})
    if taken:
        return f"the demo's users are taken already ({', '.join(taken)}): {START_OVER}"
    # One statement: an EXISTS per table, each stopping at its first row.
    # Select, not select(): its overloads type a statement of thirteen columns as one scalar.
    any_rows: Select[*tuple[bool, ...]] = Select(*(exists().select_from(model) for model in CONTENT))
    found = (await session.exec(any_rows)).one()
    filled = [str(model.__tablename__) for model, present in zip(CONTENT, found, strict=True) if present]
    if filled:
        return f"the database has content already (rows in {', '.join(filled)}): {START_OVER}"
    return None


def _email(username: str) -> str:
    return f"{username}@guildhall.example"


async def seed_demo(session: AsyncSession) -> DemoSummary:
    """Fill a database without content, beside any users of its own (refused otherwise, so real data
    is never mixed with demo data, and nothing is written)."""
    if (refusal := await _refusal(session)) is not None:
        raise Conflict("database_not_empty", f"refused: {refusal}")
    hashed = hash_password(DEMO_PASSWORD)
    users = {
        name: User(username=name, email=_email(name), hashed_password=hashed, role=role) for name, role in DEMO_USERS
    }
    session.add_all(users.values())
    await flush(session)
    alice, bob, mod = users["alice"], users["bob"], users["mod"]

    categories = await _categories(session)
    session.add_all(
        [
            Product(name="The Hobbit (paperback)", price=Decimal("12.99"), category_id=categories["Fantasy"].id),
            Product(name="A Brief History of Time", price=Decimal("15.50"), category_id=categories["Science"].id),
            Product(name="Pocket phone", price=Decimal("199.00"), category_id=categories["Phones"].id),
        ]
    )

    posts = [
        Post(
            title="Why async SQLModel",
            content="Explicit loading beats surprises.",
            status="published",
            author_id=row_id(alice),
            category_id=categories["Science"].id,
        ),
        Post(
            title="Dragons I have known",
            content="A field guide.",
            status="published",
            author_id=row_id(bob),
            category_id=categories["Fantasy"].id,
        ),
        Post(
            title="Draft: phone review",
            content="Not finished yet.",
            status="draft",
            author_id=row_id(alice),
            category_id=categories["Phones"].id,
        ),
        Post(title="Old announcement", content="Kept for the record.", status="archived", author_id=row_id(bob)),
    ]
    session.add_all(posts)
    await flush(session)
    now = now_utc()
    session.add_all(
        [
            Comment(
                content="Great read, thanks!",
                post_id=row_id(posts[0]),
                author_id=row_id(bob),
                moderation_state=ModerationState.approved,
                moderated_at=now,
            ),
            Comment(
                content="BUY CHEAP SPAM AT MY SITE",
                post_id=row_id(posts[0]),
                author_id=row_id(bob),
                moderation_state=ModerationState.rejected,
                moderation_reason="banned words: spam",
                moderated_at=now,
                moderated_by_id=mod.id,
            ),
            Comment(
                content="Which dragon was the friendliest?",
                post_id=row_id(posts[1]),
                author_id=row_id(alice),
            ),
        ]
    )

    teams = [
        Team(name="Avengers", headquarters="New York"),
        Team(name="Guardians", headquarters="Knowhere"),
        Team(name="Rookies", headquarters="Garage"),
    ]
    session.add_all(teams)
    await flush(session)
    heroes = [
        Hero(name="Iron Man", secret_identity="Tony Stark", age=48, power_level=85, team_id=teams[0].id),
        Hero(name="Captain America", secret_identity="Steve Rogers", age=105, power_level=80, team_id=teams[0].id),
        Hero(name="Star-Lord", secret_identity="Peter Quill", age=38, power_level=60, team_id=teams[1].id),
        Hero(name="Gamora", secret_identity="Gamora Zen Whoberi", age=29, power_level=75, team_id=teams[1].id),
        Hero(name="Ms. Marvel", secret_identity="Kamala Khan", age=16, power_level=45, team_id=teams[2].id),
        Hero(name="Wanderer", secret_identity="Unknown", age=40, power_level=30),
    ]
    session.add_all(heroes)
    await flush(session)
    session.add_all(
        [
            Item(name="Arc reactor", hero_id=row_id(heroes[0])),
            Item(name="Shield", hero_id=row_id(heroes[1])),
            Item(name="Walkman", hero_id=row_id(heroes[2])),
            Item(name="Godslayer", hero_id=row_id(heroes[3])),
        ]
    )

    students = [
        Student(name="Ada Lovelace", email="ada@school.example"),
        Student(name="Alan Turing", email="alan@school.example"),
    ]
    courses = [Course(name="Databases", code="CS300"), Course(name="Distributed Systems", code="CS410")]
    session.add_all([*students, *courses])
    await flush(session)
    session.add_all(
        [
            Enrollment(
                student_id=row_id(students[0]), course_id=row_id(courses[0]), semester="fall", year=2026, grade="A"
            ),
            Enrollment(student_id=row_id(students[0]), course_id=row_id(courses[1]), semester="spring", year=2027),
            Enrollment(
                student_id=row_id(students[1]), course_id=row_id(courses[0]), semester="fall", year=2026, grade="B+"
            ),
        ]
    )

    article = Article(
        title="Tagging anything", content="Polymorphic tags, kept honest.", status="published", author_id=row_id(alice)
    )
    image = Image(filename="dragon.png", alt_text="A friendly dragon", author_id=row_id(bob))
    session.add_all([article, image])
    await flush(session)
    session.add_all(
        [
            Tag(name="python", taggable_type="article", taggable_id=row_id(article)),
            Tag(name="databases", taggable_type="article", taggable_id=row_id(article)),
            Tag(name="dragons", taggable_type="image", taggable_id=row_id(image)),
            Tag(name="python", taggable_type="image", taggable_id=row_id(image)),
        ]
    )
    await flush(session)
    counts = {
        "users": len(users),
        "categories": len(categories),
        "products": 3,
        "posts": len(posts),
        "comments": 3,
        "teams": len(teams),
        "heroes": len(heroes),
        "items": 4,
        "students": 2,
        "courses": 2,
        "enrollments": 3,
        "articles": 1,
        "images": 1,
        "tags": 4,
    }
    return DemoSummary(users=[(name, role.value) for name, role in DEMO_USERS], counts=counts)
