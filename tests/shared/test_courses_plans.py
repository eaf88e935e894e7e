"""The plans that keep the enrollment pages flat as a course fills (issue 21): a deep page of a big
course's students walks the students' name index from the cursor, probing each one's enrollment,
and stops after the page; a student's courses walk their own index. Nothing sorts the enrollment
table, or the course's enrollments: the only sort is of the page's own rows, after its LIMIT. The
tables are filled enough (and ANALYZEd) for the planner to cost them as a large database."""

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.courses import queries
from tests.support.plans import explain

STUDENTS = 5_000
SMALL_COURSES = 2_000


async def fill(session: AsyncSession) -> tuple[int, int]:
    """A big course every student takes, small courses of a few students each, and a student in
    every small course over the years: (the big course's id, that student's id)."""
    big = (
        await session.exec(text("INSERT INTO course (name, code) VALUES ('Big', 'PLAN-BIG') RETURNING id"))  # type: ignore[call-overload]
    ).scalar_one()
    await session.exec(  # type: ignore[call-overload]
        text("INSERT INTO course (name, code) SELECT 'small ' || g, 'PLAN-' || g FROM generate_series(1, :n) g"),
        params={"n": SMALL_COURSES},
    )
    await session.exec(  # type: ignore[call-overload]
        text(
            "INSERT INTO student (name, email) SELECT 'student ' || md5(g::text), 'plan' || g || '@example.com' "
            "FROM generate_series(1, :n) g"
        ),
        params={"n": STUDENTS},
    )
    await session.exec(  # type: ignore[call-overload]
        text(
            "INSERT INTO enrollment (student_id, course_id, semester, year) "
            "SELECT s.id, :big, 'fall', 2025 FROM student s WHERE s.email LIKE 'plan%'"
        ),
        params={"big": big},
    )
    await session.exec(  # type: ignore[call-overload]
        text(
            "INSERT INTO enrollment (student_id, course_id, semester, year) "
            "SELECT s.id, c.id, (ARRAY['spring', 'summer', 'fall', 'winter'])[1 + (s.id + c.id) % 4], "
            "2000 + (s.id + c.id) % 20 FROM student s JOIN course c ON c.code LIKE 'PLAN-%' AND c.id <> :big "
            "WHERE s.email LIKE 'plan%' AND (s.id + c.id) % 500 = 0"
        ),
        params={"big": big},
    )
    many = (
        await session.exec(  # type: ignore[call-overload]
            text("INSERT INTO student (name, email) VALUES ('Many', 'many@example.com') RETURNING id")
        )
    ).scalar_one()
    await session.exec(  # type: ignore[call-overload]
        text(
            "INSERT INTO enrollment (student_id, course_id, semester, year) "
            "SELECT :many, c.id, (ARRAY['spring', 'summer', 'fall', 'winter'])[1 + c.id % 4], 2000 + c.id % 20 "
            "FROM course c WHERE c.code LIKE 'PLAN-%' AND c.id <> :big"
        ),
        params={"many": many, "big": big},
    )
    for table in ("course", "student", "enrollment"):
        await session.exec(text(f"ANALYZE {table}"))  # type: ignore[call-overload]
    return big, many


def sorts_below_the_limit(plan: str) -> list[str]:
    """The plan's Sort nodes under its first Limit (inside the page's subquery): none may be there."""
    lines = plan.splitlines()
    limit = next(i for i, line in enumerate(lines) if "Limit" in line)
    depth = len(lines[limit]) - len(lines[limit].lstrip())
    return [line for line in lines[limit + 1 :] if "Sort" in line and len(line) - len(line.lstrip()) > depth]


async def test_a_deep_page_of_a_big_courses_students_walks_the_name_index_and_sorts_no_enrollments(
    session: AsyncSession,
) -> None:
    big, _ = await fill(session)
    name, student_id = (
        await session.exec(  # type: ignore[call-overload]
            text("SELECT name, id FROM student WHERE email LIKE 'plan%' ORDER BY name, id LIMIT 1 OFFSET 4000")
        )
    ).one()
    _, plan = await explain(session, queries.course_students_statement(big, limit=50, after=(name, student_id)))
    assert "ix_student_name_id" in plan, plan
    assert "pk_enrollment" in plan, plan
    assert "Seq Scan on enrollment" not in plan and "Seq Scan on student" not in plan, plan
    assert sorts_below_the_limit(plan) == [], plan


async def test_a_deep_page_of_a_students_courses_walks_its_term_index(session: AsyncSession) -> None:
    _, student_id = await fill(session)
    _, plan = await explain(session, queries.student_courses_statement(student_id, limit=50, after=(2015, 1, 1)))
    assert "ix_enrollment_student_term" in plan, plan
    assert "Seq Scan on enrollment" not in plan, plan
    assert sorts_below_the_limit(plan) == [], plan
