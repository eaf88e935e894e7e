"""A `# type: ignore` in production code names what it silences and says why, on its own line:
`# type: ignore[code]  # why`. mypy --strict (`make lint`) reports one that silences nothing
(warn_unused_ignores); this test holds the rest, since mypy cannot tell a reason from a habit."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = ("guildhall", "services", "shared")
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<codes>\[[^\]]*\])?(?P<rest>.*)$")


def unexplained() -> list[str]:
    found = []
    for package in PRODUCTION:
        for path in sorted((ROOT / package).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                match = IGNORE.search(line)
                if match is None:
                    continue
                reason = match["rest"].strip().lstrip("#").strip()
                if not match["codes"] or len(reason) < 8:
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def test_every_type_ignore_in_production_code_names_its_code_and_says_why() -> None:
    assert unexplained() == []


def test_the_check_sees_a_bare_ignore_and_accepts_an_explained_one() -> None:
    bare = IGNORE.search("x = f()  # type: ignore")
    assert bare is not None and bare["codes"] is None
    explained = IGNORE.search("x = f()  # type: ignore[arg-type]  # SQLModel's exec() types only select()")
    assert explained is not None and explained["codes"] == "[arg-type]"
    assert explained["rest"].strip().lstrip("#").strip().startswith("SQLModel")
