"""What the courses tables' named constraints mean to a person: a 409 (or a 422) names the rule
and says this. Names come from the naming convention in shared/models/base.py, so they are stable
across migrations."""

from shared.errors import Rule

RULES: dict[str, Rule] = {
    "uq_student_email_lower": Rule(("email",), "a student with this email already exists"),
    "uq_course_code": Rule(("code",), "a course with this code already exists"),
    "pk_enrollment": Rule(("student_id", "course_id"), "the student is already enrolled in this course"),
    "fk_enrollment_student_id_student": Rule(("student_id",), "the student does not exist"),
    "fk_enrollment_course_id_course": Rule(("course_id",), "the course does not exist"),
    "ck_enrollment_grade_valid": Rule(("grade",), "grade must be A-D with an optional + or -, or F"),
    "ck_enrollment_year_valid": Rule(("year",), "year must be between 1900 and 2200"),
    "ck_enrollment_semester_valid": Rule(("semester",), "semester must be spring, summer, fall or winter"),
}
