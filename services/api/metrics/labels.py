"""The route label of a request: its matched route's template, never the raw path, so the label set
stays small (/api/v1/heroes/{hero_id}, not one label per hero)."""

import re

from starlette.types import Scope

_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def route_template(scope: Scope) -> str:
    """The matched route's full template. A route inside an included router knows only its own part
    (/ops/jobs/{job_id}); the prefix it was mounted under is what precedes that part, filled in with
    this request's path parameters, in the request's path."""
    route = scope.get("route")
    template: str | None = getattr(route, "path", None)
    if not template:
        return "<unmatched>"
    params = scope.get("path_params", {})
    filled = _PARAM.sub(lambda match: str(params.get(match.group(1), match.group(0))), template)
    path: str = scope.get("path", "")
    prefix = path[: -len(filled)] if filled and path.endswith(filled) else ""
    return prefix + template
