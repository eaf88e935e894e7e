"""No production module passes 350 lines (CONTRIBUTING.md): past that, a module holds more than
one thing, and it is split by what each part holds."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = ("guildhall", "services", "shared")
MAX_LINES = 350


def test_no_production_module_passes_350_lines() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for package in PRODUCTION
        for path in (ROOT / package).rglob("*.py")
    }
    assert len(sizes) > 100  # the packages were found
    assert {path: lines for path, lines in sizes.items() if lines > MAX_LINES} == {}
