"""Many-to-many with payload: Enrollment as an association object."""

import pytest
from sqlalchemy.orm import selectinload
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.courses import queries
from shared.db import flush
from shared.errors import ConstraintViolation
from shared.models.courses import Course, Enrollment, Student
from tests.conftest import StatementLog


async def make_school(session: AsyncSession) -> tuple[Student, Student, Course, Course]:
    ann, bob = Student(name="Ann", email="ann@example.com"), Student(name="Bob", email="bob@example.com")
    db, os_ = Course(name="Databases", code="CS300"), Course(name="Operating Systems", code="CS310")
    session.add_all([ann, bob, db, os_])
    await flush(session)
    return ann, bob, db, os_


async def test_an_enrollment_payload_round_trips_and_updates(session: AsyncSession) -> None:
    ann, _, db, _ = await make_school(session)
    session.add(Enrollment(student_id=ann.id, course_id=db.id, semester="fall", year=2026))  # type: ignore[arg-type]
    await flush(session)
    session.expunge_all()
    [(enrollment, course)] = await queries.student_courses_page(session, ann.id, limit=10) or []  # type: ignore[arg-type]
    assert (enrollment.semester, enrollment.year, enrollment.grade) == ("fall", 2026, None)
    assert enrollment.enrollment_date.utcoffset() is not None
    assert course.code == "CS300"
    enrollment.grade = "A-"
    await flush(session)
    session.expunge_all()
    [(stored, student)] = await queries.course_students_page(session, db.id, limit=10) or []  # type: ignore[arg-type]
    assert stored.grade == "A-" and student.name == "Ann"


async def test_courses_and_students_are_navigable_both_ways(session: AsyncSession, statements: StatementLog) -> None:
    ann, bob, db, os_ = await make_school(session)
    session.add_all(
        [
            Enrollment(student_id=ann.id, course_id=db.id, semester="fall", year=2026),  # type: ignore[arg-type]
            Enrollment(student_id=ann.id, course_id=os_.id, semester="spring", year=2027),  # type: ignore[arg-type]
            Enrollment(student_id=bob.id, course_id=db.id, semester="fall", year=2026),  # type: ignore[arg-type]
        ]
    )
    await flush(session)
    session.expunge_all()
    student = (
        await session.exec(
            select(Student)
            .where(col(Student.id) == ann.id)
            .options(selectinload(Student.courses), selectinload(Student.enrollments))  # type: ignore[arg-type]
        )
    ).one()
    assert sorted(c.code for c in student.courses) == ["CS300", "CS310"]
    assert sorted(e.semester for e in student.enrollments) == ["fall", "spring"]
    course = (
        await session.exec(select(Course).where(col(Course.id) == db.id).options(selectinload(Course.students)))  # type: ignore[arg-type]
    ).one()
    assert sorted(s.name for s in course.students) == ["Ann", "Bob"]
    with statements.record():
        pairs = await queries.student_courses_page(session, ann.id, limit=10) or []  # type: ignore[arg-type]
        codes = [c.code for _, c in pairs]
    assert statements.count == 1 and codes == ["CS300", "CS310"]


async def test_a_students_courses_come_in_calendar_order_of_their_terms(session: AsyncSession) -> None:
    ann, _, db, os_ = await make_school(session)
    session.add_all(
        [  # alphabetically fall < spring; in the calendar, spring comes first
            Enrollment(student_id=ann.id, course_id=db.id, semester="fall", year=2026),  # type: ignore[arg-type]
            Enrollment(student_id=ann.id, course_id=os_.id, semester="spring", year=2026),  # type: ignore[arg-type]
        ]
    )
    await flush(session)
    session.expunge_all()
    pairs = await queries.student_courses_page(session, ann.id, limit=10) or []  # type: ignore[arg-type]
    assert [e.semester for e, _ in pairs] == ["spring", "fall"]


@pytest.mark.parametrize(
    ("payload", "constraint"),
    [
        ({"grade": "E"}, "ck_enrollment_grade_valid"),
        ({"grade": "AB"}, "ck_enrollment_grade_valid"),
        ({"semester": "autumn"}, "ck_enrollment_semester_valid"),
        ({"year": 1850}, "ck_enrollment_year_valid"),
    ],
)
async def test_grade_semester_and_year_only_take_sane_values(
    session: AsyncSession, payload: dict[str, object], constraint: str
) -> None:
    ann, _, db, _ = await make_school(session)
    values = {"semester": "fall", "year": 2026} | payload
    session.add(Enrollment(student_id=ann.id, course_id=db.id, **values))  # type: ignore[arg-type]
    with pytest.raises(ConstraintViolation) as caught:
        await flush(session)
    assert caught.value.constraint == constraint


async def test_enrolling_twice_is_refused(session: AsyncSession) -> None:
    ann, _, db, _ = await make_school(session)
    session.add(Enrollment(student_id=ann.id, course_id=db.id, semester="fall", year=2026))  # type: ignore[arg-type]
    await flush(session)
    session.expunge_all()
    session.add(Enrollment(student_id=ann.id, course_id=db.id, semester="spring", year=2027))  # type: ignore[arg-type]
    with pytest.raises(ConstraintViolation) as caught:
        await flush(session)
    assert caught.value.constraint == "pk_enrollment"


async def test_a_value_too_long_for_its_column_is_a_typed_error(session: AsyncSession) -> None:
    ann, _, db, _ = await make_school(session)
    session.add(Enrollment(student_id=ann.id, course_id=db.id, semester="fall", year=2026, grade="A+-"))  # type: ignore[arg-type]
    with pytest.raises(ConstraintViolation) as caught:
        await flush(session)
    assert caught.value.kind == "invalid_value"
    assert "too long" in caught.value.message


async def test_a_page_tells_an_unknown_id_from_an_empty_page_in_its_one_statement(
    session: AsyncSession, statements: StatementLog
) -> None:
    ann, _, db, _ = await make_school(session)
    with statements.record():
        assert await queries.student_courses_page(session, ann.id, limit=10) == []  # type: ignore[arg-type]
        assert await queries.course_students_page(session, db.id, limit=10) == []  # type: ignore[arg-type]
        assert await queries.student_courses_page(session, 999_999_999, limit=10) is None
        assert await queries.course_students_page(session, 999_999_999, limit=10) is None
    assert statements.count == 4
