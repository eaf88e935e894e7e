"""The patterns guide (docs/patterns.md) stays true to the code.

The guide names code as `path/to/module.py::name` (a function, class or constant; `Class.member`
for a member), tests as `tests/...py::test_name`, routes as `METHOD /api/v1/path?param=value`, and
commands in ```sh blocks or inline (`make X`, `python -m bench.x`, `guildhall sub`). Every one of
them must exist: a renamed function, a removed test, a changed route or query parameter, or a
command the project no longer has fails here. The sections must follow the reference document's
order, each naming its code, a test and a route; the README must link the guide near its top.
"""

import argparse
import ast
import re
import shlex
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from guildhall.cli import build_parser
from services.api.main import create_app

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "patterns.md"

# The reference document's patterns, in its order (../shared/seed/, "Advanced SQLModel Relationships and Patterns").
SECTIONS = [
    "Self-referencing models",
    "Polymorphic associations",
    "Many-to-many with payload",
    "Join queries",
    "Aggregates",
    "Dynamic filters",
    "Subqueries",
    "Eager loading (each strategy)",
    "Batch create / update / delete",
    "Model-level constraints and validation",
    "Custom indexes (composite, partial, trigram)",
    "Session context managers",
    "Transaction management (the hero transfer)",
    "The blog example",
]

CODE_REF = re.compile(r"`((?:guildhall|shared|services|bench|migrations|tests|examples)/[\w./-]+\.py)(?:::([\w.]+))?`")
ROUTE_REF = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)`")
INLINE_COMMAND = re.compile(r"`((?:\.venv/bin/)?(?:make|python -m|guildhall) [^`]*)`")
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
CURL_URL = re.compile(r"\$API(/[^\s\"'?]*)(?:\?([^\s\"']*))?")
API_PREFIX = "/api/v1"


def guide() -> str:
    return GUIDE.read_text()


def sections() -> dict[str, str]:
    """Numbered `## N. Title` sections of the guide, by title, in order."""
    parts = re.split(r"^## \d+\. (.+)$", guide(), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def code_refs(text: str) -> list[tuple[str, str | None]]:
    return [(match[1], match[2]) for match in CODE_REF.finditer(text)]


def route_refs(text: str) -> list[tuple[str, str]]:
    return [(match[1], match[2]) for match in ROUTE_REF.finditer(text)]


def shell_lines(text: str) -> Iterator[str]:
    """Every command line of the ```sh blocks, trailing comments removed."""
    for block in SH_BLOCK.findall(text):
        for raw in block.splitlines():
            line = re.sub(r"\s+#\s.*$", "", raw).strip()
            if line and not line.startswith("#"):
                yield line


# --- resolving names -----------------------------------------------------------------------------


def _names_in(body: list[ast.stmt]) -> dict[str, ast.stmt]:
    names: dict[str, ast.stmt] = {}
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
    return names


@cache
def _module(path: str) -> ast.Module:
    return ast.parse((ROOT / path).read_text(), filename=path)


def defines(path: str, qualified: str) -> bool:
    """Whether the module at `path` defines `qualified` (`name` or `Class.member`), read with ast."""
    body: list[ast.stmt] = _module(path).body
    for part in qualified.split("."):
        node = _names_in(body).get(part)
        if node is None:
            return False
        body = node.body if isinstance(node, ast.ClassDef) else []
    return True


# --- routes and commands -------------------------------------------------------------------------


@cache
def openapi_paths() -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = create_app().openapi()["paths"]
    return paths


def _path_types(operation: dict[str, Any]) -> dict[str, str | None]:
    return {p["name"]: p.get("schema", {}).get("type") for p in operation.get("parameters", []) if p["in"] == "path"}


def _segments_match(reference: str, template: str, types: dict[str, str | None]) -> bool:
    """A literal segment (`7`, `top`) matches itself or a parameter that could hold it (digits for
    an integer id); a parameter of the guide's (`{id}`) matches only a parameter, whatever its name."""
    ours, theirs = reference.strip("/").split("/"), template.strip("/").split("/")
    if len(ours) != len(theirs):
        return False
    for a, b in zip(ours, theirs, strict=True):
        if a == b:
            continue
        if not b.startswith("{"):
            return False
        if not a.startswith("{") and types.get(b.strip("{}")) == "integer" and not a.isdigit():
            return False
    return True


def route_problem(method: str, path: str, query: str | None) -> str | None:
    """Why `method path?query` is not a route of the app (None when it is). Literal segments beat
    templates, as in the router: `/teams/top` is its own route, not `/teams/{team_id}`."""
    candidates = []
    for template, operations in openapi_paths().items():
        operation = operations.get(method.lower())
        if operation is not None and _segments_match(path, template, _path_types(operation)):
            candidates.append((template.count("{"), template, operation))
    if not candidates:
        return f"no route {method} {path}"
    _, template, operation = min(candidates, key=lambda candidate: candidate[0])
    known = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    asked = {pair.split("=", 1)[0] for pair in query.split("&")} if query else set()
    if unknown := asked - known:
        return f"{method} {template} has no query parameter {sorted(unknown)} (it has {sorted(known)})"
    return None


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*):", text, flags=re.MULTILINE))


def command_problem(command: str) -> str | None:
    """Why `command` is not one this project has (None when it is)."""
    command = re.sub(r"^sleep \d+;\s*", "", command)  # a pause before it, as in the README's tour
    words = shlex.split(command)
    program = words[0].removeprefix(".venv/bin/")
    if program == "make":
        missing = [target for target in words[1:] if "=" not in target and target not in make_targets()]
        return f"no make target {missing}" if missing else None
    if program in ("python", "python3") and words[1:2] == ["-m"]:
        module = words[2]
        if not module.startswith("bench."):
            return f"python -m {module}: the guide shows only the bench modules"
        base = ROOT / module.replace(".", "/")
        exists = base.with_suffix(".py").is_file() or (base / "__main__.py").is_file()
        return None if exists else f"no module {module}"
    if program == "guildhall":
        try:
            build_parser().parse_args(words[1:])
        except SystemExit:
            return f"guildhall does not take {words[1:]}"
        return None
    if program == "curl":
        return None  # its route is checked by test_every_curl_example_hits_a_route
    if re.fullmatch(r"[A-Z_]+=.*", command):
        return None  # a shell variable (the README's API/TOKEN set-up)
    return f"not a command of this project: {command}"


# --- the tests -----------------------------------------------------------------------------------


def test_the_sections_follow_the_reference_document_in_its_order() -> None:
    assert list(sections()) == SECTIONS


@pytest.mark.parametrize("title", SECTIONS)
def test_each_section_names_its_code_its_test_and_a_route(title: str) -> None:
    text = sections()[title]
    refs = code_refs(text)
    assert any(not path.startswith("tests/") and name for path, name in refs), f"{title}: no code named"
    assert any(path.startswith("tests/") and name for path, name in refs), f"{title}: no test named"
    assert route_refs(text), f"{title}: no route to try it with"


def test_the_guide_names_a_fair_number_of_things() -> None:
    # Guards the patterns above: a format change that matched nothing would pass every check.
    refs = code_refs(guide())
    assert len([r for r in refs if r[0].startswith("tests/")]) >= 50
    assert len([r for r in refs if not r[0].startswith("tests/")]) >= 60
    assert len(route_refs(guide())) >= 35
    assert len(list(shell_lines(guide()))) >= 15


def test_every_module_function_and_test_it_names_exists() -> None:
    problems = []
    for path, name in sorted(set(code_refs(guide())), key=str):
        if not (ROOT / path).is_file():
            problems.append(f"{path}: no such file")
        elif name is not None and not defines(path, name):
            problems.append(f"{path}::{name}: not defined there")
        elif path.startswith("tests/") and name is not None and not name.startswith("test_"):
            problems.append(f"{path}::{name}: not a test")
    assert problems == []


def test_every_route_it_names_exists_with_its_query_parameters() -> None:
    problems = []
    for method, target in route_refs(guide()):
        path, _, query = target.partition("?")
        if not path.startswith(API_PREFIX):
            problems.append(f"{method} {target}: routes are named with their full path ({API_PREFIX}/...)")
        elif problem := route_problem(method, path, query or None):
            problems.append(problem)
    assert problems == []


def test_every_curl_example_hits_a_route() -> None:
    problems = []
    for line in shell_lines(guide()):
        if "curl" not in line:
            continue
        method_flag = re.search(r"-X (\w+)", line)
        method = method_flag[1] if method_flag else ("POST" if re.search(r"\s-d\s", line) else "GET")
        urls = CURL_URL.findall(line)
        if not urls:
            problems.append(f"curl without an $API url: {line}")
        for path, query in urls:
            if problem := route_problem(method, API_PREFIX + path, query or None):
                problems.append(f"{problem} (in: {line})")
    assert problems == []


def test_every_command_it_shows_is_one_the_project_has() -> None:
    commands = list(shell_lines(guide())) + [match[1] for match in INLINE_COMMAND.finditer(guide())]
    problems = [f"{command}: {problem}" for command in commands if (problem := command_problem(command))]
    assert problems == []


def test_the_readme_links_the_guide_on_its_first_screen() -> None:
    first_screen = (ROOT / "README.md").read_text().splitlines()[:15]
    assert any("(docs/patterns.md)" in line for line in first_screen)


def test_the_checker_catches_what_it_should() -> None:
    # The checks themselves: a renamed function, a wrong route or parameter, a made-up command.
    assert defines("shared/heroes/queries.py", "filter_heroes")
    assert not defines("shared/heroes/queries.py", "filter_heroes_renamed")
    assert defines("shared/heroes/schemas.py", "HeroUpdate.merged_with")
    assert not defines("shared/heroes/schemas.py", "HeroUpdate.no_such_method")
    assert route_problem("GET", "/api/v1/teams/top", None) is None
    assert route_problem("GET", "/api/v1/teams/7", "include=heroes") is None
    assert route_problem("GET", "/api/v1/teams/{id}", "include=heroes") is None
    assert route_problem("GET", "/api/v1/teams/7", "expand=heroes") is not None
    assert route_problem("DELETE", "/api/v1/teams/7", None) is not None
    assert route_problem("GET", "/api/v1/teams/best", None) is not None  # team ids are integers
    assert route_problem("GET", "/api/v1/no/such/route", None) is not None
    assert command_problem("make bench") is None
    assert command_problem("make deploy") is not None
    assert command_problem(".venv/bin/python -m bench.bulk_update") is None
    assert command_problem(".venv/bin/python -m bench.no_such_bench") is not None
    assert command_problem(".venv/bin/guildhall seed-demo") is None
    assert command_problem('sleep 1; curl -s "$API/heroes/1/transfers"') is None
    assert command_problem("rm -rf build") is not None
    assert command_problem(".venv/bin/guildhall no-such-command") is not None
    assert isinstance(build_parser(), argparse.ArgumentParser)
