"""Where the tests' helpers live: a helper shared by several test modules lives in tests/support/
(or a conftest), never in a test module that others import as a library, and is written once."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def names_a_test_module(dotted: str) -> bool:
    return any(part.startswith("test_") for part in dotted.split("."))


def imported_test_modules(source: str, path: Path) -> list[str]:
    """The test modules that `source` (the file at `path`) imports: `import tests.x.test_y`,
    `from tests.x.test_y import ...`, `from tests.x import test_y`, and the relative forms."""
    found = []
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            found += [
                alias.name
                for alias in node.names
                if alias.name.startswith("tests.") and names_a_test_module(alias.name)
            ]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = list(path.relative_to(ROOT).with_suffix("").parts)[: -node.level]
                module = ".".join([*package, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module != "tests" and not module.startswith("tests."):
                continue
            if names_a_test_module(module):
                found.append(module)
            else:
                found += [f"{module}.{alias.name}" for alias in node.names if alias.name.startswith("test_")]
    return found


def python_files() -> list[Path]:
    return sorted(TESTS.rglob("*.py"))


def test_no_test_module_imports_another_test_module() -> None:
    imports = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in python_files()
        for module in imported_test_modules(path.read_text(), path)
    ]
    assert imports == []


def test_free_port_is_written_once_in_tests_support() -> None:
    definitions = [
        str(path.relative_to(ROOT))
        for path in python_files()
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "free_port"
    ]
    assert definitions == ["tests/support/network.py"]


def test_the_check_sees_every_form_of_a_test_module_import() -> None:
    path = TESTS / "ops" / "test_actions.py"  # read as if these lines were written there
    sources = {
        "from tests.ops.test_inspect import enqueue": ["tests.ops.test_inspect"],
        "import tests.worker.test_bulk_jobs": ["tests.worker.test_bulk_jobs"],
        "from tests.ops import test_inspect": ["tests.ops.test_inspect"],
        "from .test_inspect import enqueue": ["tests.ops.test_inspect"],
        "from . import test_inspect": ["tests.ops.test_inspect"],
        "from ..worker.test_bulk_jobs import run_job": ["tests.worker.test_bulk_jobs"],
        "from tests.test_cli import run_cli": ["tests.test_cli"],
        "from tests.support.queues import enqueue": [],
        "from tests.ops.conftest import OpsWorker": [],
        "from .conftest import OpsWorker": [],
        "from shared.jobs.enqueue import enqueue": [],
        "import tests.support.network": [],
    }
    for source, expected in sources.items():
        assert imported_test_modules(source, path) == expected, source
